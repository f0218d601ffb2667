"""What operators see of the server: a request id on every request and its log lines, and
request counts and durations by route for /metrics.

``RequestObserver`` is the outermost ASGI middleware, so it also counts what the inner ones
refuse (413 for a body too large, 503 when the queue is full). The id comes from the client's
``X-Request-ID`` when it is a sane token (so a proxy's id follows the request through), or is
made here; it is sent back in the response's ``X-Request-ID`` and set in
``assistant.logs.request_id`` for the request's log records (JSON logs print it).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from assistant.app import Assistant
from assistant.logs import request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def route_label(scope: Scope, paths: frozenset[str]) -> str:
    """The route template that served the request, or for one refused before routing (413,
    503) its path when that is a known route: bounded label values, never raw paths."""
    route = scope.get("route")
    if route is None:
        path = str(scope.get("path", ""))
        return path if path in paths else "unmatched"
    return getattr(route, "path", None) or "/"  # the web UI is mounted at the root, as ""


class RequestObserver:
    def __init__(self, app: ASGIApp, assistant: Assistant, paths: frozenset[str]) -> None:
        self.app = app
        self.metrics = assistant.metrics
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GOOD_ID.fullmatch(given) else uuid.uuid4().hex
        status = 500  # a failure before any response is a server error

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope.get("method", "")
            self.metrics.observe_request(
                route_label(scope, self.paths),
                method if method in METHODS else "other",
                status,
                time.perf_counter() - started,
            )
            request_id.reset(token)
