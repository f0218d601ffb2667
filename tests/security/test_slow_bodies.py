"""Findings 3 and 4 (high): a request is authenticated and its body read (within a time limit,
its size counted while it streams, chunked or not) before it may take a work slot; a body over
the limit is refused as soon as it passes the limit, on every route."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.http import JSON_BODY_LIMIT, create_app
from tests.support.live_server import live_server
from tests.support.samples import NATO_QUESTION, make_settings, sample_assistant_in
from tests.support.security import BEARER, TOKEN, raw_call

CHUNK = 64 * 1024


def slow_request(url: str, path: str, headers: dict[str, str]) -> socket.socket:
    """Headers promising a 1000-byte body, then only 3 bytes of it."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             "Content-Length: 1000", *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"q')
    return s


def status_of(s: socket.socket) -> int:
    head = s.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else 0


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[str]:
    a = sample_assistant_in(
        tmp_path,
        api_token=SecretStr(TOKEN),
        max_concurrent_requests=2,
        max_queued_requests=0,
        body_timeout_seconds=2,
    )
    with live_server(a, tmp_path, ui=False) as srv:
        yield srv.url


def test_slow_bodies_hold_no_work_slot(small_server: str) -> None:
    slow = [slow_request(small_server, p, BEARER) for p in ["/api/ask", "/v1/chat/completions"] * 4]
    anonymous = [slow_request(small_server, "/api/ask", {}) for _ in range(4)]
    try:
        time.sleep(0.5)
        with httpx.Client(base_url=small_server, headers=BEARER, timeout=60) as c:
            r = c.post("/api/ask", json={"question": NATO_QUESTION})
            assert r.status_code == 200, r.text  # not 503: the slow ones wait outside
            assert c.get("/health").status_code == 200
        # Without credentials the answer is immediate, whatever the body does.
        assert [status_of(s) for s in anonymous] == [401] * 4
        # The slow bodies are given up on with 408 once their time is out.
        assert [status_of(s) for s in slow] == [408] * 8
    finally:
        for s in slow + anonymous:
            s.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> object:
    tmp = tmp_path_factory.mktemp("chunked")
    # No index is needed: everything here is refused before an answer would be computed.
    return create_app(Assistant(make_settings(tmp, api_token=SecretStr(TOKEN), max_file_mb=1.0)))


def endless(total: int = 24 * 1024 * 1024) -> Iterator[bytes]:
    for _ in range(total // CHUNK):
        yield b" " * CHUNK


CHUNKED = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
ROUTES = ["/api/ask", "/v1/chat/completions", "/api/documents", "/gradio_api/queue/join",
          "/gradio_api/upload", "/login", "/nowhere"]  # fmt: skip


@pytest.mark.parametrize("path", ROUTES)
def test_a_chunked_body_without_credentials_is_not_read(app: object, path: str) -> None:
    status, consumed = raw_call(app, "POST", path, CHUNKED, endless())
    if path == "/login":  # the one door that reads a body before it knows who is there
        assert status == 413 and consumed <= JSON_BODY_LIMIT + CHUNK
    else:
        assert status == 401 and consumed == 0


@pytest.mark.parametrize("path", ROUTES)
def test_a_chunked_body_is_cut_at_the_limit_while_it_streams(app: object, path: str) -> None:
    status, consumed = raw_call(app, "POST", path, {**CHUNKED, **BEARER}, endless())
    assert status == 413
    # The JSON limit (4 MB), or the upload limit (1 MB x 20 files + framing) for uploads.
    limit = 22 * 1024 * 1024 if "documents" in path or "upload" in path else JSON_BODY_LIMIT
    assert consumed <= limit + CHUNK, f"{consumed} bytes read of a body over {limit}"
