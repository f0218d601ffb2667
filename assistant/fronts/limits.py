"""Overload protection for the server: a bounded number of requests at work, a bounded queue.

Answering is CPU-bound; past a few requests at once more concurrency only makes every answer
slower, and an unbounded backlog makes clients wait until they time out with no reason given.
``ConcurrencyLimit`` is a plain ASGI middleware: at most ``max_concurrent`` requests run in the
app, up to ``max_queued`` more wait (in arrival order) at most ``queue_timeout`` seconds for a
slot, and anything beyond gets an immediate ``503`` with a JSON reason and ``Retry-After``
(estimated from recent service times). Paths outside ``paths`` (the web UI's assets and its
own queue, for instance) and the ``exempt`` ones (health checks) are never held back. With
``metrics`` (an assistant's ``Metrics``) the requests at work, waiting and rejected are
reported at /metrics.

    app.add_middleware(ConcurrencyLimit, max_concurrent=8, max_queued=64, queue_timeout=15)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConcurrencyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_concurrent: int = 8,
        max_queued: int = 64,
        queue_timeout: float = 15.0,
        paths: tuple[str, ...] = ("/api/", "/v1/"),
        exempt: tuple[str, ...] = ("/health",),
        metrics: Any = None,
    ) -> None:
        if max_concurrent < 1 or max_queued < 0 or queue_timeout <= 0:
            raise ValueError("need max_concurrent >= 1, max_queued >= 0, queue_timeout > 0")
        self.app = app
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.paths = paths
        self.exempt = exempt
        self._slots: anyio.Semaphore | None = None  # made in the server's event loop
        self.active = 0
        self.waiting = 0
        self.rejected = 0
        self._service_s = 0.5  # moving average of how long a request holds its slot
        if metrics is not None:  # an assistant's Metrics: read at every scrape of /metrics
            metrics.watch(
                "assistant_requests_in_progress",
                "API requests being worked on now.",
                lambda: self.active,
            )
            metrics.watch(
                "assistant_requests_queued",
                "API requests waiting for a free slot now (queue depth).",
                lambda: self.waiting,
            )
            metrics.watch(
                "assistant_requests_rejected",
                "API requests answered 503 because the server was at capacity.",
                lambda: self.rejected,
                kind="counter",
            )

    def _limited(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        path = str(scope.get("path", ""))
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.exempt):
            return False
        return any(path.startswith(p) for p in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._limited(scope):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.max_concurrent)
        slots = self._slots
        if slots.value == 0 and self.waiting >= self.max_queued:
            await self._reject(send, "the server is at capacity and its queue is full")
            return
        acquired = False
        self.waiting += 1
        try:
            with anyio.move_on_after(self.queue_timeout):
                await slots.acquire()  # waiters are served in arrival order
                acquired = True
        finally:
            self.waiting -= 1
        if not acquired:
            await self._reject(
                send, f"no capacity freed up within {self.queue_timeout:g} s of waiting"
            )
            return
        self.active += 1
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            slots.release()
            self._service_s = 0.8 * self._service_s + 0.2 * (time.monotonic() - started)

    def retry_after(self) -> int:
        """Seconds until the queue ahead has likely drained, at least 1."""
        backlog = self.waiting + self.active
        return max(1, math.ceil(self._service_s * backlog / self.max_concurrent))

    async def _reject(self, send: Send, why: str) -> None:
        self.rejected += 1
        retry = self.retry_after()
        message = (
            f"server busy: {why} ({self.active} requests in progress, {self.waiting} waiting); "
            f"retry in {retry} s"
        )
        body = json.dumps(
            {"error": {"message": message, "type": "server_busy", "code": "server_busy"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
