"""Finding 10, last part: one client flooding the web UI's queue (or the API) cannot make every
other user wait: each client may have a few questions in progress or waiting, and more are
refused at once with a reason. Clients are told apart by address, so each test client here
connects from its own loopback address."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from assistant.app import Assistant
from tests.support.live_server import LiveServer, live_server
from tests.support.samples import NATO_QUESTION, sample_assistant_in
from tests.support.security import from_address

PER_CLIENT = 3


class Gate:
    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = 0

    def set(self) -> None:
        self.opened.set()

    def wait_entered(self, n: int) -> None:
        deadline = time.monotonic() + 30
        while self.entered < n:
            assert time.monotonic() < deadline, f"{self.entered} of {n} answers started"
            time.sleep(0.02)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """Answers wait until the test opens the gate, so queues really fill up."""
    g = Gate()
    real = Assistant.stream

    def held(self: Assistant, *args: Any, **kw: Any) -> Any:
        g.entered += 1
        assert g.opened.wait(60)
        yield from real(self, *args, **kw)

    monkeypatch.setattr(Assistant, "stream", held)
    yield g
    g.set()


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("fair")
    a = sample_assistant_in(tmp, max_requests_per_client=PER_CLIENT)
    with live_server(a, tmp) as srv:
        yield srv


def respond_index(url: str) -> int:
    with from_address(url, "127.0.0.9") as c:
        deps = c.get("/config").json()["dependencies"]
    return next(i for i, d in enumerate(deps) if d.get("api_name") == "respond")


def test_a_flood_of_ui_questions_does_not_queue_ahead_of_others(
    server: LiveServer, gate: Gate
) -> None:
    fn = respond_index(server.url)

    def join(c: Any, session: str) -> Any:
        body = {"data": [NATO_QUESTION, None], "fn_index": fn, "session_hash": session}
        return c.post("/gradio_api/queue/join", json=body)

    with from_address(server.url, "127.0.0.2", timeout=60) as flooder:
        codes = [join(flooder, f"flood-{i}").status_code for i in range(40)]
        refused = join(flooder, "flood-x")
    assert codes.count(200) == PER_CLIENT, codes
    assert refused.status_code == 503 and "this client" in refused.json()["detail"]

    with from_address(server.url, "127.0.0.3", timeout=60) as other:
        assert join(other, "other").status_code == 200
        rank = None
        gate.set()
        with other.stream("GET", "/gradio_api/queue/data", params={"session_hash": "other"}) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "estimation" and rank is None:
                    rank = msg["rank"]
                if msg.get("msg") == "process_completed":
                    assert msg["success"], msg
                    break
    assert rank is not None and rank <= PER_CLIENT  # behind the flood's few, not its forty


def test_the_api_limits_each_client_too(server: LiveServer, gate: Gate) -> None:
    body = {"question": NATO_QUESTION}
    with (
        from_address(server.url, "127.0.0.4", timeout=60) as flooder,
        from_address(server.url, "127.0.0.5", timeout=60) as other,
        ThreadPoolExecutor(PER_CLIENT) as pool,
    ):
        held = [pool.submit(flooder.post, "/api/ask", json=body) for _ in range(PER_CLIENT)]
        gate.wait_entered(PER_CLIENT)
        extra = flooder.post("/api/ask", json=body)
        assert extra.status_code == 429, extra.text
        assert "this client" in extra.json()["error"]["message"]
        assert int(extra.headers["retry-after"]) >= 1
        done = pool.submit(other.post, "/api/ask", json=body)
        gate.set()
        assert done.result(60).status_code == 200
        assert [f.result(60).status_code for f in held] == [200] * PER_CLIENT
