"""One lock on every door of the server: credentials and request bodies, checked before any
route, queue or work slot sees a request.

``Guard`` is a plain ASGI middleware around the whole server (``create_app`` adds it last, so
it is the outermost layer). Everything routed inside the app is behind it: the JSON and OpenAI
APIs, the Gradio UI and all of Gradio's own routes (``/gradio_api/call/*``, uploads,
``/gradio_api/file=``), and whatever is mounted later (``app.mount("/mcp", ...)``,
``app.add_route("/metrics", ...)``) with no further line. Only ``/health``, the login page and
Slack's ``/slack/events`` (signed by Slack) are open.

One credential setting locks it: with ``api_token`` or ``ui_password`` set, a request needs
``Authorization: Bearer <api_token>``, HTTP Basic with a password, or the session cookie the
login page gives a person who typed the token or the UI password. Wrong credentials from one
client address are allowed a few times; after that the address must wait, longer each time,
and meanwhile its attempts are refused with 429 without being checked.

Then the body: it is read here, whole, before the request goes on (and so before it can take a
work slot in ``ConcurrencyLimit``): its size is counted while it streams (a declared
``Content-Length`` over the limit is refused before reading, a chunked body as soon as it
passes the limit), and a client that does not deliver it in time gets 408. Bodies are spooled
to a temporary file past 1 MB, so a large upload does not sit in memory.
"""

from __future__ import annotations

import base64
import hmac
import html
import json
import secrets
import string
import tempfile
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote

import anyio

from assistant.fronts.limits import client_address

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Open without our credentials: the health check, and Slack's Events API, whose requests
# carry Slack's signature instead (checked by the Slack app against the signing secret).
PUBLIC_PATHS = ("/health", "/slack/events")
LOGIN, LOGOUT = "/login", "/logout"
SESSION_COOKIE = "assistant_session"
SESSION_SECONDS = 12 * 3600
LOGIN_BODY_LIMIT = 64 * 1024
MB = 1024 * 1024
# Paths a browser navigates to: sent to the login page rather than given a JSON 401.
_MACHINE_PREFIXES = ("/api/", "/v1/", "/gradio_api/", "/slack/")


# --- who may come in --------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """The server's credentials: the API token (for machines, and accepted as a password) and
    the UI password of ``username`` (for people). None of them set = an open server."""

    token: str | None = None
    username: str = "newsroom"
    password: str | None = None

    @classmethod
    def from_settings(cls, server: Any) -> Credentials:
        token = server.api_token.get_secret_value() if server.api_token else None
        password = server.ui_password.get_secret_value() if server.ui_password else None
        return cls(token or None, server.ui_username, password or None)

    @property
    def required(self) -> bool:
        return self.token is not None or self.password is not None

    def token_ok(self, given: str) -> bool:
        return self.token is not None and _same(given, self.token)

    def password_ok(self, username: str, password: str) -> bool:
        # The token works with any user name; the UI password only with its own. Both are
        # compared, whatever the first result, so the time taken does not tell which failed.
        by_token = self.token_ok(password)
        by_password = (
            self.password is not None
            and _same(password, self.password)
            and _same(username, self.username)
        )
        return by_token or by_password


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


class Throttle:
    """Wrong credentials per client address: ``free`` of them within ``window`` seconds cost
    nothing; each one after that makes the address wait twice as long (``base`` seconds at
    first, at most ``cap``) before its next attempt is even checked."""

    def __init__(
        self,
        free: int = 20,
        window: float = 600.0,
        base: float = 1.0,
        cap: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.free, self.window, self.base, self.cap = free, window, base, cap
        self.clock = clock
        self.max_clients = max_clients
        # address -> (failures in the current window, time of the last one)
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def _current(self, client: str) -> tuple[int, float]:
        count, last = self._failures.get(client, (0, 0.0))
        if count and self.clock() - last > self.window:
            self._failures.pop(client, None)
            return 0, 0.0
        return count, last

    def wait(self, client: str) -> float:
        """Seconds ``client`` must still wait before its credentials are checked (0 = now)."""
        count, last = self._current(client)
        if count <= self.free:
            return 0.0
        delay = min(self.cap, self.base * 2 ** (count - self.free - 1))
        return max(0.0, last + delay - self.clock())

    def failed(self, client: str) -> None:
        count, _ = self._current(client)
        self._failures[client] = (count + 1, self.clock())
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:  # a spray of addresses cannot fill memory
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


class Sessions:
    """Login sessions: random ids kept in memory (a restart logs everyone out)."""

    def __init__(self, seconds: float = SESSION_SECONDS, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def new(self) -> str:
        sid = secrets.token_urlsafe(32)
        self._expiry[sid] = time.monotonic() + self.seconds
        while len(self._expiry) > self.limit:
            self._expiry.popitem(last=False)
        return sid

    def valid(self, sid: str) -> bool:
        expiry = self._expiry.get(sid)
        if expiry is None:
            return False
        if expiry < time.monotonic():
            self._expiry.pop(sid, None)
            return False
        return True

    def drop(self, sid: str) -> None:
        self._expiry.pop(sid, None)


@dataclass(frozen=True)
class BodyPolicy:
    """How large a request body may be, and how long a client has to send it."""

    limit: int = 4 * MB
    upload_limit: int = 4 * MB
    upload_paths: tuple[str, ...] = ()
    timeout: float = 30.0  # seconds for the whole body, plus one per MB received

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path in self.upload_paths else self.limit


# --- the middleware ---------------------------------------------------------------------------
class Guard:
    def __init__(
        self,
        app: ASGIApp,
        credentials: Credentials,
        body: BodyPolicy | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.body = body or BodyPolicy()
        self.throttle = throttle or Throttle()
        self.sessions = Sessions()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if self._authenticate(scope)[0] != "ok":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route(scope)
        if path == LOGIN:
            await self._login(scope, receive, send)
            return
        if path == LOGOUT:
            await self._logout(scope, send)
            return
        if path not in PUBLIC_PATHS and self.credentials.required:
            outcome, wait = self._authenticate(scope)
            if outcome != "ok":
                await self._refuse(scope, send, outcome, wait)
                return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        with body:
            await self.app(scope, _replay(body, receive), send)

    # --- credentials ----------------------------------------------------------------------
    def _authenticate(self, scope: Scope) -> tuple[str, float]:
        """("ok" | "missing" | "wrong" | "throttled", seconds to wait when throttled)."""
        if not self.credentials.required:
            return "ok", 0.0
        headers = _headers(scope)
        given = headers.get("authorization")
        if given is None:
            sid = _cookies(headers).get(SESSION_COOKIE)
            return ("ok" if sid and self.sessions.valid(sid) else "missing"), 0.0
        client = client_address(scope)
        wait = self.throttle.wait(client)
        if wait > 0:
            return "throttled", wait
        scheme, _, value = given.partition(" ")
        value = value.strip()
        ok = False
        if scheme.lower() == "bearer":
            ok = self.credentials.token_ok(value)
        elif scheme.lower() == "basic":
            username, password = _basic(value)
            ok = self.credentials.password_ok(username, password)
        if ok:
            self.throttle.succeeded(client)
            return "ok", 0.0
        self.throttle.failed(client)
        return "wrong", 0.0

    async def _refuse(self, scope: Scope, send: Send, outcome: str, wait: float) -> None:
        # A body we will not read stays on the connection: kept open, the server would read
        # all of it (however large) to reach the next request. Closing it costs nothing.
        close = {"connection": "close"} if _has_body(scope) else {}
        if outcome == "throttled":
            retry = {"retry-after": str(_seconds(wait))}
            await _json(send, 429, _too_many(wait), {**retry, **close})
            return
        path = _route(scope)
        if (
            outcome == "missing"
            and scope["method"] in ("GET", "HEAD")
            and "text/html" in _headers(scope).get("accept", "")
            and not path.startswith(_MACHINE_PREFIXES)
        ):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + ("?" + query if query else "")
            location = f"{scope.get('root_path', '')}{LOGIN}?next={quote(target, safe='')}"
            await _send(send, 303, b"", [(b"location", location.encode())])
            return
        message = (
            "missing or wrong credentials: send the bearer token "
            "(Authorization: Bearer <token>) or log in at /login"
        )
        error = {"message": message, "type": "authentication_error", "code": "unauthorized"}
        await _json(send, 401, {"error": error}, {"www-authenticate": "Bearer", **close})

    # --- the login page ------------------------------------------------------------------
    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        browser = "text/html" in _headers(scope).get("accept", "")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        user = self.credentials.username
        if scope["method"] in ("GET", "HEAD"):
            await _page(send, 200, _login_page(_safe_next(query.get("next", ["/"])[0]), user))
            return
        if scope["method"] != "POST":
            await _json(send, 405, _error("use GET or POST on /login", "method_not_allowed"))
            return
        limited = BodyPolicy(LOGIN_BODY_LIMIT, timeout=self.body.timeout)
        body = await _read(scope, receive, send, limited, LOGIN_BODY_LIMIT)
        if body is None:
            return
        with body:
            form = _form(scope, body.read())
        target = _safe_next(form.get("next", "/"))
        client = client_address(scope)
        wait = self.throttle.wait(client) if self.credentials.required else 0.0
        if wait > 0:
            if browser:
                problem = _too_many(wait)["error"]["message"]
                await _page(send, 429, _login_page(target, user, problem))
            else:
                await _json(send, 429, _too_many(wait), {"retry-after": str(_seconds(wait))})
            return
        if self.credentials.required and not self.credentials.password_ok(
            form.get("username", ""), form.get("password", "")
        ):
            self.throttle.failed(client)
            if browser:
                await _page(send, 401, _login_page(target, user, "Wrong user name or password."))
            else:
                await _json(send, 401, _error("wrong user name or password", "unauthorized"))
            return
        self.throttle.succeeded(client)
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = (
            f"{SESSION_COOKIE}={self.sessions.new()}; Path=/; HttpOnly; SameSite=Lax; "
            f"Max-Age={SESSION_SECONDS}{secure}"
        )
        set_cookie = (b"set-cookie", cookie.encode())
        if browser:
            await _send(send, 303, b"", [set_cookie, (b"location", target.encode())])
        else:
            ok = json.dumps({"success": True}).encode()
            await _send(send, 200, ok, [set_cookie, (b"content-type", b"application/json")])

    async def _logout(self, scope: Scope, send: Send) -> None:
        sid = _cookies(_headers(scope)).get(SESSION_COOKIE)
        if sid:
            self.sessions.drop(sid)
        expired = f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        location = f"{scope.get('root_path', '')}{LOGIN}"
        await _send(
            send, 303, b"", [(b"set-cookie", expired.encode()), (b"location", location.encode())]
        )

    # --- the body -------------------------------------------------------------------------
    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> IO[bytes] | None:
        return await _read(scope, receive, send, self.body, self.body.limit_for(_route(scope)))


async def _read(
    scope: Scope, receive: Receive, send: Send, policy: BodyPolicy, limit: int
) -> IO[bytes] | None:
    """The whole body in a spooled file (rewound), or None when it was refused (413, 408) or
    the client went away."""
    declared = _headers(scope).get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _json(send, 413, _error(f"request body over {_size(limit)}", "body_too_large"))
        return None
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=MB)  # noqa: SIM115 (returned open)
    received = 0
    started = time.monotonic()
    try:
        while True:
            # Slow senders get the base time plus a second per MB they did deliver.
            left = started + policy.timeout + received / MB - time.monotonic()
            message: Message | None = None
            with anyio.move_on_after(max(left, 0.0)):
                message = await receive()
            if message is None:
                reason = f"the request body did not arrive within {policy.timeout:g} s"
                await _json(send, 408, _error(reason, "body_timeout"), {"connection": "close"})
                out.close()
                return None
            if message["type"] == "http.disconnect":
                out.close()
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _json(
                    send,
                    413,
                    _error(f"request body over {_size(limit)}", "body_too_large"),
                    {"connection": "close"},
                )
                out.close()
                return None
            out.write(chunk)
            if not message.get("more_body", False):
                out.seek(0)
                return out
    except BaseException:
        out.close()
        raise


def _replay(body: IO[bytes], receive: Receive) -> Receive:
    """A receive that hands the buffered body to the app, then the client's own messages
    (a disconnect, which streaming responses listen for)."""
    done = False

    async def replayed() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(256 * 1024)
        rest = body.read(1)
        if rest:
            body.seek(-1, 1)
        else:
            done = True
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replayed


# --- small helpers ------------------------------------------------------------------------------
def _route(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _has_body(scope: Scope) -> bool:
    headers = _headers(scope)
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password


def _form(scope: Scope, data: bytes) -> dict[str, str]:
    kind = _headers(scope).get("content-type", "")
    try:
        if "application/json" in kind:
            parsed = json.loads(data)
            if not isinstance(parsed, dict):
                return {}
            return {k: v for k, v in parsed.items() if isinstance(v, str)}
        fields = parse_qs(data.decode("utf-8"), keep_blank_values=True)
    except (ValueError, UnicodeDecodeError):
        return {}
    return {k: v[0] for k, v in fields.items()}


def _safe_next(target: str) -> str:
    """Only a path on this server: never "//host" or "https://host" (an open redirect).

    Browsers drop tabs and line breaks inside a URL and read "\\" as "/", so "/\\t/host" is
    "//host" to them; CR/LF would also split the Location header. The value is checked as
    given and once percent-decoded, and what passes is sent with non-ASCII escaped."""
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith(("//", "/\\")) or "\\" in form:
            return "/"
        if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in form):
            return "/"
    return quote(target, safe=string.punctuation)


def _seconds(wait: float) -> int:
    return max(1, int(wait + 0.999))


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB" if limit >= MB else f"{limit // 1024} KB"


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _too_many(wait: float) -> dict[str, Any]:
    message = f"too many failed logins from this address; try again in {_seconds(wait)} s"
    return {"error": {"message": message, "type": "rate_limit_error", "code": "too_many_logins"}}


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(
    send: Send, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    body = json.dumps(data).encode()
    await _send(send, status, body, [(b"content-type", b"application/json"), *extra])


async def _page(send: Send, status: int, page: str) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
    ]
    await _send(send, status, page.encode(), headers)


def _login_page(target: str, username: str, problem: str = "") -> str:
    note = f'<p class="problem">{html.escape(problem)}</p>' if problem else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Newsroom assistant: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: ui-sans-serif, system-ui, sans-serif; background: #f6f7f9; margin: 0; }}
form {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem;
  border-radius: 10px; box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.25rem; margin: 0 0 1rem; }}
label {{ display: block; margin: .75rem 0 .25rem; font-size: .9rem; color: #374151; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem;
  border: 1px solid #d1d5db; border-radius: 6px; }}
button {{ margin-top: 1.25rem; width: 100%; padding: .6rem; font-size: 1rem; border: 0;
  border-radius: 6px; background: #ea580c; color: #fff; cursor: pointer; }}
.problem {{ color: #b91c1c; }}
.hint {{ color: #6b7280; font-size: .85rem; }}
</style></head>
<body><form method="post" action="login">
<h1>Newsroom assistant</h1>{note}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" value="{html.escape(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" autofocus>
<input type="hidden" name="next" value="{html.escape(target, quote=True)}">
<button type="submit">Log in</button>
<p class="hint">Log in as {html.escape(username)} with the UI password, or with the server's
API token.</p>
</form></body></html>
"""
