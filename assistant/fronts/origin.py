"""Which web pages may talk to the server: the checks against other sites' pages, in one pure
ASGI middleware around every route (the API, Gradio's routes, /mcp, the login page).

- **Host** (DNS rebinding): a page on ``evil.example`` whose name is made to resolve to
  127.0.0.1 reaches a loopback server as "same origin"; the ``Host`` header still says
  ``evil.example``. Only this server's own names are answered: the loopback names, the address
  it is bound to and ``allowed_hosts`` (the names a reverse proxy passes on). 421 otherwise.
- **Origin** (CSRF): a browser sends the login cookie (and cached HTTP Basic credentials)
  with a form or fetch from any page; it also lets any page post to a server that has no
  credential. A state-changing request must come from a page of this server: its ``Origin``
  (or, without one, its ``Referer``) must be this server's scheme://host:port, or 403. A
  request with neither header is let through, whatever its credential: browsers send
  ``Origin`` on every POST, PUT, PATCH and DELETE, so it comes from curl, a script or
  ``gradio_client`` (which logs in and then uses the cookie), not from another site's page.
- **CORS**: no response carries ``Access-Control-Allow-*`` headers (Gradio adds them for any
  page on localhost), so no other page may read an answer, and no preflight is granted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from assistant.fronts.guard import ASGIApp, Message, Receive, Scope, Send
from assistant.settings import LOOPBACK_HOSTS

# Addresses that mean "every interface": no client addresses the server by them.
_ANY_ADDRESS = ("0.0.0.0", "::", "")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed_hosts(bound: str, extra: str | Iterable[str] = ()) -> frozenset[str]:
    """This server's host names: the loopback names, the address it binds to, and ``extra``
    (a comma-separated string, as the setting holds them, or names), without ports."""
    names = [*LOOPBACK_HOSTS, bound]
    names += extra.split(",") if isinstance(extra, str) else list(extra)
    return frozenset(n for n in (_name(x) for x in names) if n not in _ANY_ADDRESS)


def host_patterns(hosts: Iterable[str]) -> list[str]:
    """``hosts`` as Host header values with any port, in the ``name:*`` form the MCP SDK's
    transport security takes."""
    out = []
    for host in sorted(hosts):
        shown = f"[{host}]" if ":" in host else host
        out += [shown, f"{shown}:*"]
    return out


def _name(host: str) -> str:
    """The name in a Host value or setting, without port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:  # name:port; more colons = a bare IPv6 address
        return host.partition(":")[0]
    return host


def _split_host(host: str, scheme: str) -> tuple[str, int | None]:
    """(name, port) of a Host header value; the scheme's default port when it names none."""
    name = _name(host)
    tail = host.strip().rpartition("]")[2] if host.strip().startswith("[") else host.strip()
    port: int | None = _DEFAULT_PORTS.get(scheme)
    if tail.count(":") == 1:
        digits = tail.partition(":")[2]
        port = int(digits) if digits.isdigit() else None
    return name, port


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, name, port) of an Origin or Referer value; None when it has none ("null")."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


class OriginCheck:
    """The Host, Origin and CORS rules above, before the guard and any route see a request."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(_name(h) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        problem = self._problem(scope, headers)
        if problem is not None:
            status, message, code = problem
            if scope["type"] == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})
                return
            await _refuse(send, status, message, code)
            return
        await self.app(scope, receive, _without_cors(send))

    def _problem(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = headers.get("host")
        # A browser always sends Host; a request without one cannot come from a rebound page.
        if host is not None and _name(host) not in self.hosts:
            message = (
                f"this server does not answer for host {host.strip()[:100]!r}: add the name "
                "to the allowed_hosts setting if a proxy forwards it"
            )
            return 421, message, "unknown_host"
        method = "GET" if scope["type"] == "websocket" else str(scope.get("method", "GET"))
        if method.upper() in _SAFE_METHODS and scope["type"] == "http":
            return None
        given = headers.get("origin")
        source = "Origin"
        if given is None and "referer" in headers:
            given, source = headers["referer"], "Referer"
        if given is None:
            return None
        # A page's Origin is http(s) also for the websocket it opens.
        scheme = {"ws": "http", "wss": "https"}.get(
            str(scope.get("scheme")), str(scope.get("scheme", "http"))
        )
        own = (scheme, *_split_host(host, scheme)) if host is not None else None
        if _origin_of(given) != own or own is None:
            message = (
                f"cross-origin request refused: the {source} {given.strip()[:100]!r} is not "
                "this server; requests that change something must come from its own pages"
            )
            return 403, message, "cross_origin"
        return None


def _without_cors(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                (k, v)
                for k, v in message.get("headers", [])
                if not k.lower().startswith(b"access-control-")
            ]
        await send(message)

    return sending


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _refuse(send: Send, status: int, message: str, code: str) -> None:
    error: dict[str, Any] = {"message": message, "type": "invalid_request_error", "code": code}
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
