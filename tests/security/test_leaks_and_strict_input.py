"""Finding 10 (medium): no server paths or schemas leak to strangers, methods are checked
after credentials, and loosely typed input is refused with a reason instead of coerced."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.samples import NATO_QUESTION
from tests.support.security import BEARER, TOKEN, asgi_request

MSG = [{"role": "user", "content": NATO_QUESTION}]


@pytest.fixture(scope="module")
def app(sample_assistant: Assistant) -> Any:
    secured = sample_assistant.with_settings(api_token=SecretStr(TOKEN))
    return create_app(secured, ui=True)


def test_health_shows_no_server_path(app: Any, sample_assistant: Assistant) -> None:
    r = asgi_request(app, "GET", "/health")
    assert r.status_code == 200
    index = str(sample_assistant.settings.index.index_dir)
    assert index not in r.text and os.getcwd() not in r.text and '"/' not in r.text


@pytest.mark.parametrize("path", ["/api/openapi.json", "/openapi.json", "/gradio_api/info"])
def test_schemas_need_the_credential(app: Any, path: str) -> None:
    assert asgi_request(app, "GET", path).status_code == 401
    assert asgi_request(app, "GET", path, headers=BEARER).status_code == 200


def test_wrong_methods_are_only_discussed_with_clients_that_may_ask(app: Any) -> None:
    assert asgi_request(app, "DELETE", "/api/documents").status_code == 401
    assert asgi_request(app, "DELETE", "/api/documents", headers=BEARER).status_code == 405


def test_gradio_upload_answers_with_no_server_path(app: Any) -> None:
    r = asgi_request(
        app, "POST", "/gradio_api/upload", headers=BEARER, files={"files": ("a.txt", b"hello")}
    )
    assert r.status_code == 200, r.text
    (path,) = r.json()
    assert not path.startswith("/") and ":" not in path and "a.txt" in path


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/ask", {"question": NATO_QUESTION, "top_k": "5"}, "top_k"),
        ("/api/ask", {"question": NATO_QUESTION, "top_k": 5.0}, "top_k"),
        ("/api/ask", {"question": NATO_QUESTION, "top_k": True}, "top_k"),
        ("/api/ask", {"question": 42}, "question"),
        ("/api/ask", {"question": NATO_QUESTION, "filters": {"sources": "a.txt"}}, "sources"),
        ("/v1/chat/completions", {"messages": MSG, "stream": "yes"}, "stream"),
        ("/v1/chat/completions", {"messages": MSG, "stream": 1}, "stream"),
        ("/v1/chat/completions", {"messages": MSG, "top_k": "5"}, "top_k"),
        ("/v1/chat/completions", {"messages": MSG, "n": 3}, "n"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}, "content"),
    ],
)
def test_loose_input_is_refused_with_a_reason(
    app: Any, path: str, body: dict[str, Any], field: str
) -> None:
    r = asgi_request(app, "POST", path, headers=BEARER, json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]


def test_n_of_one_is_fine(app: Any) -> None:
    body = {"messages": MSG, "n": 1}
    r = asgi_request(app, "POST", "/v1/chat/completions", headers=BEARER, json=body)
    assert r.status_code == 200 and len(r.json()["choices"]) == 1
