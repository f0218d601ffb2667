"""ConcurrencyLimit: bounded work, bounded queue, 503 with a reason and Retry-After, no hang."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
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
