"""ConcurrencyLimit in front of a real uvicorn server: blocking work in threads, many clients
at once, nobody hangs (the middleware alone, in process, is tests/unit/test_limits.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assistant.fronts.limits import ConcurrencyLimit


@pytest.fixture
def busy_server() -> Iterator[str]:
    def work(request: Request) -> JSONResponse:
        time.sleep(0.3)  # a CPU-bound answer, in the thread pool like the real API's routes
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/api/ask", work, methods=["POST"])])
    app.add_middleware(ConcurrencyLimit, max_concurrent=2, max_queued=3, queue_timeout=0.5)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_overload_of_a_real_server_gets_quick_503s_not_a_hang(busy_server: str) -> None:
    async def scenario() -> list[tuple[int, float, str]]:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as c:

            async def one() -> tuple[int, float, str]:
                t0 = time.monotonic()
                r = await c.post(f"{busy_server}/api/ask", json={"question": "q"})
                return r.status_code, time.monotonic() - t0, r.headers.get("retry-after", "")

            return await asyncio.gather(*(one() for _ in range(12)))

    results = asyncio.run(scenario())
    ok = [r for r in results if r[0] == 200]
    busy = [r for r in results if r[0] == 503]
    assert len(ok) + len(busy) == 12 and len(ok) >= 2 and len(busy) >= 5
    assert all(retry.isdigit() for _, _, retry in busy)
    # Every client had its answer or its refusal well before any client timeout.
    assert max(elapsed for _, elapsed, _ in results) < 8
