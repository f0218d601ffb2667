"""How uvicorn serves connections: every way of running the server (``assistant serve``, the
Slack Events API server, the tests' live server) takes its options from ``uvicorn_options``.

uvicorn times out an idle keep-alive connection, but not one whose request headers never end:
a client that sends a header line every few seconds (slowloris) holds its connection, and
enough of them hold every file descriptor. ``HeaderTimeout`` gives a request's headers the
same time as its body (``body_timeout_seconds``) and then closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from assistant.settings import ServerSettings


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_timeout: float = 30.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_headers()  # those of the next request on this connection

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._stop_waiting()  # the connection is the websocket's from here on
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        # IDLE: no complete request head since the timer was set (a request in progress,
        # however long its answer takes, is not this timer's business).
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            with contextlib.suppress(h11.LocalProtocolError):  # already closing our side
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()


def uvicorn_options(server: ServerSettings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` that every server shares."""
    protocol = type(
        "HeaderTimeout", (HeaderTimeout,), {"header_timeout": server.body_timeout_seconds}
    )
    return {"http": protocol}
