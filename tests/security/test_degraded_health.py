"""Finding 9 (medium): degraded states are reported, not hidden: a deleted index or a folder
the server cannot write gives 503 with a reason, and /health says what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from tests.support.live_server import live_server
from tests.support.samples import NATO_QUESTION, sample_assistant_in

NOTE = ("note.md", b"# Ferry\n\nThe Oban ferry runs hourly from May, the operator said.\n")


def assert_unavailable(r: httpx.Response, *words: str, tmp: Path) -> None:
    assert r.status_code == 503, r.text
    message = r.json()["error"]["message"]
    assert all(w in message for w in words), message
    assert str(tmp) not in r.text  # a reason, without the server's paths


def test_a_deleted_index_is_reported(tmp_path: Path) -> None:
    a = sample_assistant_in(tmp_path)
    with live_server(a, tmp_path, ui=False) as srv, httpx.Client(base_url=srv.url) as c:
        assert c.get("/health").json()["status"] == "ok"
        shutil.rmtree(tmp_path / "index")
        health = c.get("/health")
        assert_unavailable(health, "index", tmp=tmp_path)
        assert health.json()["status"] == "unavailable"
        upload = c.post("/api/documents", files=[("files", NOTE)])
        assert_unavailable(upload, "index", tmp=tmp_path)
        asked = c.post("/api/ask", json={"question": NATO_QUESTION})
        assert_unavailable(asked, "index", tmp=tmp_path)


def test_a_conversation_that_cannot_be_saved_is_reported(tmp_path: Path) -> None:
    a = sample_assistant_in(tmp_path)
    with live_server(a, tmp_path, ui=False) as srv, httpx.Client(base_url=srv.url) as c:
        first = c.post("/api/ask", json={"question": NATO_QUESTION}).json()
        # The sessions folder cannot be written (a file stands in its place: as root, the
        # tests cannot take a permission away).
        shutil.rmtree(tmp_path / "index" / "sessions", ignore_errors=True)
        (tmp_path / "index" / "sessions").write_text("not a folder")
        r = c.post(
            "/api/ask",
            json={"question": "And what about China?", "session_id": first["session_id"]},
        )
        assert_unavailable(r, "conversation", tmp=tmp_path)
        assert_unavailable(c.get("/health"), "sessions", tmp=tmp_path)
