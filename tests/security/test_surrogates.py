"""Finding 6 (medium): any string a JSON parser accepts, in any field, gets an answer or a 4xx:
lone surrogates (valid JSON escapes, invalid UTF-8) included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.live_server import live_server
from tests.support.samples import NATO_QUESTION

BAD = "NATO \ud800 Ukraine \udfff"
Q = NATO_QUESTION
JSON = {"Content-Type": "application/json"}
MSG = [{"role": "user", "content": Q}]

ASK_BODIES: list[dict[str, Any]] = [
    {"question": BAD},
    {"question": "\ud800"},
    {"question": Q, "filters": {"sources": [BAD]}},
    {"question": Q, "filters": {"since": BAD}},
    {"question": Q, "filters": {"until": "2023-01-01\udc00"}},
    {"question": Q, "session_id": BAD},
    {"question": Q, "session_id": "abc\ud800"},
]
CHAT_BODIES: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": BAD}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": BAD}]}]},
    {"messages": [{"role": "user", "content": [{"type": BAD, "text": Q}]}]},
    {"messages": [{"role": BAD, "content": Q}, *MSG]},
    {"messages": [{"role": "user", "content": BAD}, {"role": "assistant", "content": BAD}, *MSG]},
    {"messages": MSG, "model": BAD},
    {"messages": MSG, "user": BAD, "stream": True},
    {"messages": [{"role": "user", "content": BAD}], "stream": True},
    {"messages": MSG, "filters": {"sources": [BAD]}},
]


def post(app: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps writes lone surrogates as \\udXXX escapes: valid JSON, as a client sends it.
    data = json.dumps(body).encode()

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.post(path, content=data, headers={"Content-Type": "application/json"})

    return asyncio.run(go())


@pytest.fixture(scope="module")
def app(sample_assistant: Assistant) -> Any:
    return create_app(sample_assistant, ui=False)


@pytest.mark.parametrize("body", ASK_BODIES, ids=lambda b: json.dumps(b)[:60])
def test_ask_answers_or_refuses(app: Any, body: dict[str, Any]) -> None:
    r = post(app, "/api/ask", body)
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        assert r.json()["question"]
    else:
        assert r.json()["error"]["message"]


@pytest.mark.parametrize("body", CHAT_BODIES, ids=lambda b: json.dumps(b)[:60])
def test_chat_completions_answer_or_refuse(app: Any, body: dict[str, Any]) -> None:
    r = post(app, "/v1/chat/completions", body)
    assert r.status_code < 500, r.text
    assert "internal error" not in r.text


@pytest.fixture(scope="module")
def ui_url(sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(sample_assistant, tmp_path_factory.mktemp("ui")) as srv:
        yield srv.url


def test_the_web_ui_answers_a_question_with_lone_surrogates(ui_url: str) -> None:
    # gradio_client cannot send them (it encodes to UTF-8); a hand-made request can.
    with httpx.Client(base_url=ui_url, timeout=120, trust_env=False) as c:
        data = json.dumps({"data": [BAD, None]})
        r = c.post("/gradio_api/call/respond", content=data, headers=JSON)
        assert r.status_code == 200, r.text
        events = c.get(f"/gradio_api/call/respond/{r.json()['event_id']}").text
    assert "event: complete" in events, events[-2000:]
    assert "went wrong" not in events and "NATO" in events


URL_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("/api/documents", {"url": "\ud800"}),
    ("/api/documents", {"url": "https://example.org/\udfff"}),
    ("/api/documents", {"urls": ["https://example.org/a", "\ud800"]}),
    ("/api/feeds", {"url": "\ud800"}),
    ("/api/feeds", {"url": "https://example.org/feed\udc00.xml"}),
]


@pytest.mark.parametrize(("path", "body"), URL_BODIES, ids=lambda b: json.dumps(b)[:60])
def test_urls_with_lone_surrogates_are_refused_with_a_reason(
    app: Any, path: str, body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Refused before anything is fetched or followed: no URL with them can be requested.
    r = post(app, path, body)
    assert r.status_code == 422, r.text
    assert "url" in r.json()["error"]["message"]
    assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text
