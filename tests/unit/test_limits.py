"""ConcurrencyLimit: bounded work, bounded queue, 503 with a reason and Retry-After, no hang."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from assistant.fronts.limits import ConcurrencyLimit


class Gate:
    """Endpoints that hold their slot until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.entered = 0

    def app(self, **limits: Any) -> tuple[Starlette, ConcurrencyLimit]:
        async def slow(request: Request) -> JSONResponse:
            self.entered += 1
            await self.open.wait()
            return JSONResponse({"ok": True})

        async def boom(request: Request) -> JSONResponse:
            raise RuntimeError("boom")

        async def health(request: Request) -> PlainTextResponse:
            return PlainTextResponse("ok")

        routes = [
            Route("/api/slow", slow, methods=["POST"]),
            Route("/api/boom", boom),
            Route("/health", health),
            Route("/ui/page", health),
        ]
        app = Starlette(routes=routes)
        app.add_middleware(ConcurrencyLimit, **limits)
        # Build the middleware stack to reach the instance (and its counters).
        stack = app.build_middleware_stack()
        while not isinstance(stack, ConcurrencyLimit):
            stack = stack.app
        app.middleware_stack = stack  # type: ignore[assignment]
        return app, stack


def client(app: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test", timeout=10)


async def wait_until(cond: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_full_queue_is_refused_at_once_and_a_long_wait_times_out() -> None:
    async def scenario() -> None:
        gate = Gate()
        app, limit = gate.app(max_concurrent=2, max_queued=1, queue_timeout=0.5)
        async with client(app) as c:
            running = [asyncio.create_task(c.post("/api/slow")) for _ in range(2)]
            await wait_until(lambda: gate.entered == 2)
            queued = asyncio.create_task(c.post("/api/slow"))
            await wait_until(lambda: limit.waiting == 1)

            full = await c.post("/api/slow")
            assert full.status_code == 503  # refused at once: not the timeout's reason
            assert "queue is full" in full.json()["error"]["message"]
            assert full.json()["error"]["code"] == "server_busy"
            assert int(full.headers["retry-after"]) >= 1

            late = await queued  # waited its 0.5 s, then gave up with a reason
            assert late.status_code == 503
            assert "within 0.5 s" in late.json()["error"]["message"]
            assert limit.waiting == 0 and limit.active == 2

            assert (await c.get("/health")).status_code == 200  # exempt while saturated
            assert (await c.get("/ui/page")).status_code == 200  # outside the limited paths
            gate.open.set()
            assert [r.status_code for r in await asyncio.gather(*running)] == [200, 200]
            assert limit.active == 0 and limit.rejected == 2
            assert (await c.post("/api/slow")).status_code == 200  # capacity is back

    asyncio.run(scenario())


def test_a_queued_request_is_served_when_a_slot_frees() -> None:
    async def scenario() -> None:
        gate = Gate()
        app, limit = gate.app(max_concurrent=1, max_queued=5, queue_timeout=5)
        async with client(app) as c:
            first = asyncio.create_task(c.post("/api/slow"))
            await wait_until(lambda: gate.entered == 1)
            rest = [asyncio.create_task(c.post("/api/slow")) for _ in range(3)]
            await wait_until(lambda: limit.waiting == 3)
            assert gate.entered == 1  # they wait outside the app
            gate.open.set()
            results = await asyncio.gather(first, *rest)
            assert [r.status_code for r in results] == [200] * 4
            assert limit.rejected == 0

    asyncio.run(scenario())


def test_a_failing_request_gives_its_slot_back() -> None:
    async def scenario() -> None:
        app, limit = Gate().app(max_concurrent=1, max_queued=0, queue_timeout=1)
        async with client(app) as c:
            for _ in range(3):
                assert (await c.get("/api/boom")).status_code == 500
            assert limit.active == 0
            assert (await c.get("/api/boom")).status_code == 500  # not 503

    asyncio.run(scenario())


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        ConcurrencyLimit(Starlette(), max_concurrent=0)


# --- a real server: blocking work in threads, many clients at once, nobody hangs -------------


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
