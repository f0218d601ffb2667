"""The HTTP app driven in process: a synchronous ``httpx.Client`` whose requests go through
``httpx.ASGITransport`` straight into the app, with no socket, port or uvicorn.

``ASGITransport`` is asynchronous; the app runs on an event loop in a helper thread (an anyio
blocking portal) and each request is handed to it, so plain synchronous test code, several
threads at once, and synchronous clients built on httpx (``openai.OpenAI(http_client=...)``)
all work. The app's blocking routes run in its thread pool as they do under uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

BASE_URL = "http://localhost"


class PortalTransport(httpx.BaseTransport):
    """A synchronous transport that runs each request through ``ASGITransport`` on the
    portal's event loop."""

    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        # The app's own 500 response is what a test checks, not the exception behind it.
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def run() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._asgi.handle_async_request(forwarded)
            content = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, content

        status, headers, content = self._portal.call(run)
        return httpx.Response(status, headers=headers, content=content, request=request)


@contextmanager
def in_process(app: Any, **client: Any) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` (base URL ``BASE_URL``) that talks to ``app`` in this process."""
    with start_blocking_portal() as portal:
        transport = PortalTransport(app, portal)
        with httpx.Client(transport=transport, base_url=BASE_URL, **client) as c:
            yield c


@contextmanager
def portal_transport(app: Any) -> Iterator[PortalTransport]:
    """The transport alone, for a client built elsewhere (``httpx.Client(transport=...)``)."""
    with start_blocking_portal() as portal:
        yield PortalTransport(app, portal)
