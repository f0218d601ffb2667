"""Overload protection for the server: a bounded number of requests at work, a bounded queue.

Answering is CPU-bound; past a few requests at once more concurrency only makes every answer
slower, and an unbounded backlog makes clients wait until they time out with no reason given.
``ConcurrencyLimit`` is a plain ASGI middleware: at most ``max_concurrent`` requests run in the
app, up to ``max_queued`` more wait (in arrival order) at most ``queue_timeout`` seconds for a
slot, and anything beyond gets an immediate ``503`` with a JSON reason and ``Retry-After``
(estimated from recent service times). Paths outside ``paths`` (the web UI's assets and its
own queue, for instance) and the ``exempt`` ones (health checks) are never held back. With
``max_per_client``, one client address may have that many requests in progress or waiting;
more get an immediate ``429`` with a reason, so one client cannot fill the queue for all. With
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
        max_per_client: int = 0,
    ) -> None:
        if max_concurrent < 1 or max_queued < 0 or queue_timeout <= 0 or max_per_client < 0:
            raise ValueError(
                "need max_concurrent >= 1, max_queued >= 0, queue_timeout > 0, max_per_client >= 0"
            )
        self.app = app
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.paths = paths
        self.exempt = exempt
        self.max_per_client = max_per_client  # 0 = no limit per client
        self._per_client: dict[str, int] = {}  # client address -> requests in progress or waiting
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
        client = client_address(scope)
        held = self._per_client.get(client, 0)
        if self.max_per_client and held >= self.max_per_client:
            why = f"too many requests from this client ({held} in progress or waiting)"
            await self._reject(send, why, status=429)
            return
        self._per_client[client] = held + 1
        try:
            await self._limited_call(scope, receive, send)
        finally:
            left = self._per_client[client] - 1
            if left:
                self._per_client[client] = left
            else:
                del self._per_client[client]

    async def _limited_call(self, scope: Scope, receive: Receive, send: Send) -> None:
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

    async def _reject(self, send: Send, why: str, status: int = 503) -> None:
        retry = self.retry_after()
        if status == 429:  # this client's own excess: not the server's capacity
            message, code = f"{why}; retry in {retry} s", "too_many_requests"
        else:
            self.rejected += 1
            message = (
                f"server busy: {why} ({self.active} requests in progress, {self.waiting} "
                f"waiting); retry in {retry} s"
            )
            code = "server_busy"
        body = json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def client_address(scope: Scope) -> str:
    """Who a request comes from, for per-client limits: its address (the proxy's, unless the
    server was told to trust the proxy's X-Forwarded-For)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
