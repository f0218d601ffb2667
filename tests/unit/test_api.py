"""The JSON API and the OpenAI-compatible endpoint, driven in process through httpx's
ASGITransport (tests/support/asgi.py): the real app and the real httpx and openai clients,
no socket. `assistant serve` itself, on a port, is tests/integration/test_serve.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from assistant.app import NO_ANSWER, Assistant
from assistant.fronts.cli import app as cli_app
from assistant.fronts.http import create_app
from assistant.types import Filters
from tests.support.asgi import BASE_URL, PortalTransport, in_process, portal_transport
from tests.support.contract import CONTRACT_KEYS as ANSWER_KEYS
from tests.support.fake_embedder import NAME as HASHED
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION, make_settings, sample_assistant_in

TOKEN = "test-token-3f9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTRACT_KEYS = ANSWER_KEYS | {"session_id"}
# Present only when they have something to say.
OPTIONAL_KEYS = {"notices", "verification"}
UPLOAD_LIMIT_MB = 0.05


@dataclass
class Served:
    """The app of one Assistant, and a transport that carries requests into it."""

    assistant: Assistant
    tmp: Path
    transport: PortalTransport

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(transport=self.transport, base_url=BASE_URL, timeout=120, **kw)

    def openai(self, api_key: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=BASE_URL + "/v1", api_key=api_key, max_retries=0, http_client=self.client()
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("api")
    a = sample_assistant_in(tmp, api_token=SecretStr(TOKEN), max_file_mb=UPLOAD_LIMIT_MB)
    with portal_transport(create_app(a, ui=False)) as transport:
        yield Served(a, tmp, transport)


@pytest.fixture(scope="module")
def http(server: Served) -> Iterator[httpx.Client]:
    with server.client(headers=AUTH) as c:
        yield c


@pytest.fixture(scope="module")
def anon(server: Served) -> Iterator[httpx.Client]:
    """A client without the token."""
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def client(server: Served) -> openai.OpenAI:
    return server.openai(TOKEN)


def ask(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/api/ask", json=body)


def assert_error(r: httpx.Response, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    message = r.json()["error"]["message"]
    for w in words:
        assert w in message, message
    assert "Traceback" not in r.text


# --- health and auth ----------------------------------------------------------------------------
def test_health_needs_no_token(anon: httpx.Client) -> None:
    r = anon.get("/health")
    assert r.status_code == 200
    h = r.json()
    assert (h["status"], h["documents"], h["embedder"], h["llm"]) == ("ok", 2, HASHED, "none")
    assert h["chunks"] > 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/ask"),
        ("GET", "/api/documents"),
        ("POST", "/api/documents"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ],
)
def test_every_api_route_needs_the_token(anon: httpx.Client, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = anon.request(method, path, headers=headers, json={"question": "x"})
        assert_error(r, 401, "bearer token")
        assert r.headers["www-authenticate"] == "Bearer"


def test_openai_client_with_a_wrong_key_is_refused(server: Served) -> None:
    bad = server.openai("nope")
    with pytest.raises(openai.AuthenticationError, match="bearer token"):
        bad.models.list()


# --- /api/ask -----------------------------------------------------------------------------------
def test_ask_returns_the_contract(http: httpx.Client, server: Served) -> None:
    r = ask(http, question=NATO_QUESTION)
    assert r.status_code == 200, r.text
    d = r.json()
    assert CONTRACT_KEYS <= set(d) <= CONTRACT_KEYS | OPTIONAL_KEYS
    assert d["answered"] is True and d["question"] == NATO_QUESTION
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", d["answer"])}
    assert markers == {c["n"] for c in d["citations"]} and len(markers) >= 3
    ids = {doc["source"]: doc["doc_id"] for doc in server.assistant.documents()}
    texts = server.assistant.document_texts(list(ids.values()))
    for c in d["citations"]:
        assert texts[ids[c["source"]]][c["start"] : c["end"]] == c["quote"]
    # The API only relays the core: the same question asked in-process gives the same answer.
    same = server.assistant.ask(NATO_QUESTION).to_dict()
    assert (d["answer"], d["citations"]) == (same["answer"], same["citations"])


def test_follow_up_within_a_session(http: httpx.Client, server: Served) -> None:
    first = ask(http, question=NATO_QUESTION).json()
    saved = server.tmp / "index" / "sessions" / f"{first['session_id']}.json"
    assert not saved.exists()  # a one-shot question leaves nothing on disk
    r = ask(http, question="And what did he say about China?", session_id=first["session_id"])
    d = r.json()
    assert d["session_id"] == first["session_id"]
    assert saved.is_file()  # a conversation does, so it survives a restart
    assert "Stoltenberg" in d["standalone_question"]
    assert NATO_QUESTION in d["standalone_question"]
    alone = ask(http, question="And what did he say about China?").json()
    assert alone["session_id"] != first["session_id"]
    assert alone["standalone_question"] == "And what did he say about China?"


def test_date_filters(http: httpx.Client) -> None:
    d = ask(http, question=NATO_QUESTION, filters={"since": "2023-01-01"}).json()
    assert d["citations"] and {c["published"] for c in d["citations"]} == {"2023-11-27"}
    d = ask(http, question=NATO_QUESTION, filters={"until": "2022-12-31"}, top_k=3).json()
    assert {c["published"] for c in d["citations"]} == {"2022-11-25"}
    assert len(d["retrieved"]) <= 3


def test_unanswerable_question(http: httpx.Client) -> None:
    d = ask(http, question=TAIWAN_QUESTION).json()
    assert d["answered"] is False and d["citations"] == []
    assert d["answer"].startswith(NO_ANSWER)
    assert "They mention NATO but not Taiwan." in d["answer"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, ["question", "required"]),
        ({"question": "   "}, 422, ["empty"]),
        ({"question": "x" * 2001}, 413, ["2001", "limit is 2000"]),
        ({"question": 5}, 422, ["question"]),
        ({"question": "q?", "session_id": "../../etc"}, 422, ["session_id"]),
        ({"question": "q?", "top_k": 0}, 422, ["top_k"]),
        ({"question": "q?", "filters": {"since": "yesterday"}}, 422, ["since", "not a date"]),
        ({"question": "q?", "filters": {"from": "2023-01-01"}}, 422, ["filters.from"]),
        (
            {"question": "q?", "filters": {"since": "2023-02-01", "until": "2023-01-01"}},
            422,
            ["since is after"],
        ),
        ({"question": "q?", "colour": "red"}, 422, ["colour"]),
    ],
)
def test_bad_requests_get_a_reason(
    http: httpx.Client, body: dict[str, Any], status: int, words: list[str]
) -> None:
    assert_error(ask(http, **body), status, *words)


def test_invalid_json_and_unknown_routes(http: httpx.Client) -> None:
    r = http.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 422, "JSON")
    assert_error(http.get("/api/ask"), 405, "use POST")
    assert_error(http.get("/api/nothing"), 404, "no such endpoint")
    assert_error(http.post("/v1/completions", json={}), 404, "no such endpoint")
    r = http.post("/api/ask", content=b"x" * (5 * 1024 * 1024))
    assert_error(r, 413)


def test_unexpected_errors_are_a_generic_500(
    http: httpx.Client, server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(server.assistant, "documents", broken)
    r = http.get("/api/documents")
    assert_error(r, 500, "internal error")
    assert "secret internal detail" not in r.text


def test_concurrent_questions_get_the_same_answers_as_sequential_ones(
    http: httpx.Client, server: Served
) -> None:
    jobs = [
        {"question": NATO_QUESTION},
        {"question": NATO_QUESTION, "filters": {"since": "2023-01-01"}},
        {"question": "What did Stoltenberg say about Finland?"},
        {"question": NATO_QUESTION, "filters": {"until": "2022-12-31"}},
    ] * 2
    expected = []
    for job in jobs:
        f = job.get("filters", {})
        a = server.assistant.ask(job["question"], filters=Filters(**f))
        expected.append(a.answer)
    with ThreadPoolExecutor(len(jobs)) as pool:
        got = list(pool.map(lambda job: ask(http, **job).json()["answer"], jobs))
    assert got == expected


# --- documents ----------------------------------------------------------------------------------
def test_documents_lists_the_index(http: httpx.Client) -> None:
    d = http.get("/api/documents").json()
    by_source = {doc["source"]: doc for doc in d["documents"]}
    assert d["count"] == len(d["documents"])
    nato = by_source["000_7f57f19b72752444.txt"]
    assert nato["title"] == "NATO Reaffirms Long-Term Support to Ukraine Amid Security Crisis"
    assert nato["published"] == "2023-11-27" and nato["chunks"] >= 1
    assert "004_b2e554588cd8baa4.txt" in by_source


NOTE = (
    "Harbour Board Approves Tide Gauge Network\n\n"
    "The Port of Wexmouth harbour board approved a network of twelve tide gauges on "
    "Tuesday (5 March 2024), chairwoman Ilse Marrow said. The gauges will report water levels "
    "every minute to the pilots' station, and the board set aside 400,000 euros for them.\n"
)


def test_upload_is_ingested_and_answerable(http: httpx.Client, server: Served) -> None:
    before = http.get("/api/documents").json()["count"]
    r = http.post("/api/documents", files=[("files", ("tide note.txt", NOTE.encode()))])
    assert r.status_code == 201, r.text
    (f,) = r.json()["files"]
    assert f == {
        "name": "tide_note.txt",
        "source": "uploads/tide_note.txt",
        "indexed": True,
        "documents": 1,
        "reason": None,
    }
    assert (server.tmp / "corpus" / "uploads" / "tide_note.txt").read_text() == NOTE
    assert http.get("/api/documents").json()["count"] == before + 1
    d = ask(http, question="How many tide gauges did the Wexmouth harbour board approve?").json()
    assert d["answered"] is True
    assert {c["source"] for c in d["citations"]} == {"uploads/tide_note.txt"}
    assert any("twelve tide gauges" in c["quote"] for c in d["citations"])


def uploads(server: Served) -> set[str]:
    return {p.name for p in (server.tmp / "corpus" / "uploads").glob("*")}


def test_upload_rejects_bad_files(http: httpx.Client, server: Served) -> None:
    (server.tmp / "corpus" / "uploads").mkdir(exist_ok=True)
    before = uploads(server)
    r = http.post("/api/documents", files=[("files", ("tool.exe", b"MZ\x90\x00"))])
    assert_error(r, 415, "unsupported file type .exe", ".pdf")
    big = b"word " * int(UPLOAD_LIMIT_MB * 1024 * 1024 / 4)
    r = http.post("/api/documents", files=[("files", ("big.txt", big))])
    assert_error(r, 413, "too large")
    # One refused file means none of the batch is saved.
    r = http.post(
        "/api/documents",
        files=[("files", ("fine.txt", NOTE.encode())), ("files", ("x.zip", b"PK"))],
    )
    assert_error(r, 415, "x.zip")
    assert_error(http.post("/api/documents", files=[("files", ("e.txt", b""))]), 422, "empty")
    assert_error(http.post("/api/documents", data={"x": "1"}), 422, "files")
    # Accepted by name, refused by the reader: reported, and not left in the corpus.
    r = http.post("/api/documents", files=[("files", ("garbage.txt", bytes(range(256)) * 8))])
    assert r.status_code == 422, r.text
    assert r.json()["files"][0]["indexed"] is False and r.json()["files"][0]["reason"]
    assert "nothing could be indexed" in r.json()["error"]["message"]
    assert uploads(server) == before


def test_upload_names_cannot_escape_the_upload_folder(http: httpx.Client, server: Served) -> None:
    r = http.post("/api/documents", files=[("files", ("../../escape.txt", NOTE.encode()))])
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["source"] == "uploads/escape.txt"
    assert (server.tmp / "corpus" / "uploads" / "escape.txt").is_file()
    assert not (server.tmp / "escape.txt").exists()
    assert not (server.tmp / "corpus" / "escape.txt").exists()


# --- OpenAI-compatible --------------------------------------------------------------------------
def test_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["newsroom-assistant"]


def reference(server: Served, question: str) -> Any:
    return server.assistant.ask(question, session=server.assistant.new_session(keep=False))


def test_openai_client_gets_a_cited_answer(client: openai.OpenAI, server: Served) -> None:
    r = client.chat.completions.create(
        model="newsroom-assistant", messages=[{"role": "user", "content": NATO_QUESTION}]
    )
    content = r.choices[0].message.content or ""
    want = reference(server, NATO_QUESTION)
    answer, sources = content.split("\n\nSources:\n")
    assert answer == want.answer
    lines = sources.splitlines()
    assert len(lines) == len(want.citations)
    for line, c in zip(lines, want.citations, strict=True):
        assert line == f"[{c.n}] {c.title} ({c.published}) — {c.source}"
    extra = r.model_extra or {}
    assert extra["citations"] == [c.to_dict() for c in want.citations]
    assert extra["answered"] is True
    assert r.choices[0].finish_reason == "stop" and r.model == "newsroom-assistant"


def test_openai_client_streams_the_same_answer(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": NATO_QUESTION}]
    whole = client.chat.completions.create(model="newsroom-assistant", messages=messages)
    chunks = list(
        client.chat.completions.create(model="newsroom-assistant", messages=messages, stream=True)
    )
    assert len(chunks) >= 4  # role, at least two paragraphs, sources, stop
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["citations"] == (whole.model_extra or {})["citations"]
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_openai_follow_up_uses_the_earlier_messages(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    first = client.chat.completions.create(
        model="newsroom-assistant", messages=[{"role": "user", "content": NATO_QUESTION}]
    )
    follow_up = "And what did he say about Finland?"
    r = client.chat.completions.create(
        model="newsroom-assistant",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": NATO_QUESTION},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": follow_up}]},
        ],
    )
    # The same conversation kept server-side (a session) gives the same answer.
    sid = ask(http, question=NATO_QUESTION).json()["session_id"]
    want = ask(http, question=follow_up, session_id=sid).json()
    assert "Stoltenberg" in want["standalone_question"]
    content = r.choices[0].message.content or ""
    assert content.split("\n\nSources:\n")[0] == want["answer"]
    assert "Finland" in want["answer"]


def test_openai_bad_requests(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError, match="last message must be the user"):
        client.chat.completions.create(
            model="newsroom-assistant",
            messages=[
                {"role": "user", "content": NATO_QUESTION},
                {"role": "assistant", "content": "..."},
            ],
        )
    with pytest.raises(openai.UnprocessableEntityError, match="messages"):
        client.chat.completions.create(model="newsroom-assistant", messages=[])
    with pytest.raises(openai.APIStatusError, match="limit is 2000") as exc:
        client.chat.completions.create(
            model="newsroom-assistant", messages=[{"role": "user", "content": "q" * 3000}]
        )
    assert exc.value.status_code == 413
    with pytest.raises(openai.UnprocessableEntityError, match="image_url"):
        client.chat.completions.create(
            model="newsroom-assistant",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:,"}}],
                }
            ],
        )


# --- index states -------------------------------------------------------------------------------
def test_empty_and_mismatched_indexes_are_explained(tmp_path: Path, server: Served) -> None:
    empty = Assistant(make_settings(tmp_path / "empty"))
    with in_process(create_app(empty, ui=False)) as c:
        r = c.post("/api/ask", json={"question": NATO_QUESTION})
        assert_error(r, 409, "is empty", "assistant ingest")
    # The API test server's index, opened with another chunk size.
    other = make_settings(server.tmp, chunk_size=150)
    with in_process(create_app(Assistant(other), ui=False)) as c:
        r = c.post("/api/ask", json={"question": NATO_QUESTION})
        assert_error(r, 503, "built with other settings", "--rebuild")
        assert_error(c.get("/health"), 503, "chunk_size")


# --- the command --------------------------------------------------------------------------------
def test_serve_refuses_a_mismatched_index_before_listening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_assistant_in(tmp_path)
    monkeypatch.setenv("ASSISTANT_CHUNK_SIZE", "150")
    r = CliRunner().invoke(cli_app, ["serve", "--index", str(tmp_path / "index")])
    assert r.exit_code == 1
    assert "built with other settings" in r.output and "Traceback" not in r.output
