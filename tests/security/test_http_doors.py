"""The server's doors against other web pages: the login's ``next`` stays on this server, a
state-changing request from another origin is refused (CSRF), no route sends CORS headers,
and a request addressed to a host name that is not this server's is refused (DNS rebinding).

Driven in process (``in_process``: the real app, no socket) and, where the HTTP server itself
is the point (a header it cannot send), through uvicorn on a loopback port."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.asgi import BASE_URL, in_process
from tests.support.live_server import live_server
from tests.support.samples import sample_assistant_in
from tests.support.security import BEARER, PASSWORD, TOKEN, USERNAME

SELF = BASE_URL  # http://localhost: what the in-process client addresses
OTHER_PORT = "http://localhost:9999"  # same site, another origin: a page of another local app
OTHER_SITE = "https://evil.example"
NOTE = ("note.md", b"# Ferry\n\nThe Oban ferry runs hourly from May, the operator said.\n")
HTML = {"Accept": "text/html"}
LOCKED = {
    "api_token": SecretStr(TOKEN),
    "ui_username": USERNAME,
    "ui_password": SecretStr(PASSWORD),
}


@pytest.fixture(scope="module")
def open_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A server of its own without any credential: uploads that get through change it."""
    return sample_assistant_in(tmp_path_factory.mktemp("open"))


@pytest.fixture(scope="module")
def locked_assistant(open_assistant: Assistant) -> Assistant:
    return open_assistant.with_settings(**LOCKED)


@pytest.fixture(scope="module")
def open_ui(open_assistant: Assistant) -> Iterator[httpx.Client]:
    with in_process(create_app(open_assistant), timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def locked(locked_assistant: Assistant) -> Iterator[httpx.Client]:
    with in_process(create_app(locked_assistant, ui=False), timeout=60) as c:
        yield c


def login_cookie(client: httpx.Client) -> dict[str, str]:
    r = client.post("/login", data={"username": USERNAME, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Cookie": f"assistant_session={r.cookies['assistant_session']}"}


def refused_as_cross_origin(r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    assert "origin" in r.json()["error"]["message"].lower()


def titles(a: Assistant) -> list[str]:
    return sorted(str(d.get("title")) for d in a.documents())


# --- 1. the login's next ---------------------------------------------------------------------
ESCAPES = [
    "/\t/evil.example",  # browsers drop the tab: //evil.example
    "/%09/evil.example",
    "/\r\n/evil.example",
    "/%0d%0a/evil.example",
    "/\n/evil.example",
    "/ /evil.example",
    "//evil.example",
    "/\\evil.example",
    "/%5cevil.example",
    "/%2f/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "\t/x",
    "",
]


@pytest.mark.parametrize("target", ESCAPES, ids=repr)
def test_a_next_that_could_leave_this_server_becomes_the_home_page(
    locked: httpx.Client, target: str
) -> None:
    form = {"username": USERNAME, "password": PASSWORD, "next": target}
    r = locked.post("/login", data=form, headers=HTML)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    page = locked.get("/login", params={"next": target}, headers=HTML)
    assert page.status_code == 200
    assert 'name="next" value="/"' in page.text


@pytest.mark.parametrize("target", ["/", "/?tab=documents", "/documents/abc?x=1#cite-2"])
def test_a_next_on_this_server_is_followed(locked: httpx.Client, target: str) -> None:
    form = {"username": USERNAME, "password": PASSWORD, "next": target}
    r = locked.post("/login", data=form, headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == target


def test_a_next_with_cr_lf_gets_a_redirect_not_a_dropped_connection(
    locked_assistant: Assistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Through uvicorn: it is the HTTP server that cannot send a header holding CR/LF.
    caplog.set_level(logging.ERROR)
    with (
        live_server(locked_assistant, tmp_path, ui=False) as srv,
        httpx.Client(base_url=srv.url, trust_env=False, timeout=30) as c,
    ):
        for target in ("/\r\nSet-Cookie: a=b", "/%0d%0aSet-Cookie:%20a=b", "/\r/x", "/\n"):
            form = {"username": USERNAME, "password": PASSWORD, "next": target}
            r = c.post("/login", data=form, headers=HTML)
            assert r.status_code == 303, r.text
            assert r.headers["location"] == "/"
            assert "a=b" not in r.headers.get_list("set-cookie")
    assert "Traceback" not in caplog.text
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


# --- 2. requests from other origins (CSRF) ----------------------------------------------------
def test_an_upload_from_another_origin_to_an_open_server_is_refused(
    open_ui: httpx.Client, open_assistant: Assistant
) -> None:
    before = titles(open_assistant)
    for origin in (OTHER_PORT, "http://127.0.0.1:8080", OTHER_SITE, "null"):
        r = open_ui.post("/api/documents", files=[("files", NOTE)], headers={"Origin": origin})
        refused_as_cross_origin(r)
    # No Origin, a Referer from elsewhere: the same.
    r = open_ui.post(
        "/api/documents", files=[("files", NOTE)], headers={"Referer": OTHER_PORT + "/page"}
    )
    refused_as_cross_origin(r)
    assert titles(open_assistant) == before


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("POST", "/api/documents", {"json": {"url": "http://127.0.0.1:1/a"}}),
        ("POST", "/api/feeds", {"json": {"url": "http://127.0.0.1:1/feed.xml"}}),
        ("POST", "/api/feeds/poll", {}),
        ("DELETE", "/api/feeds/abc", {}),
        ("POST", "/api/ask", {"json": {"question": "Who?"}}),
        ("POST", "/v1/chat/completions", {"json": {"messages": []}}),
        ("POST", "/gradio_api/upload", {"files": {"files": ("a.txt", b"hello")}}),
        ("POST", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": 0}}),
        ("POST", "/gradio_api/call/upload", {"json": {"data": []}}),
        ("PUT", "/", {}),
        ("PATCH", "/api/feeds/abc", {}),
    ],
)
def test_every_state_changing_door_refuses_another_origin(
    open_ui: httpx.Client, method: str, path: str, kw: dict[str, Any]
) -> None:
    r = open_ui.request(method, path, headers={"Origin": OTHER_PORT}, **kw)
    refused_as_cross_origin(r)


def test_a_page_of_this_server_and_scripts_may_still_change_things(
    open_ui: httpx.Client, open_assistant: Assistant
) -> None:
    ok = open_ui.post("/api/feeds/poll", headers={"Origin": SELF})
    assert ok.status_code == 200, ok.text
    by_referer = open_ui.post("/api/feeds/poll", headers={"Referer": SELF + "/?tab=docs"})
    assert by_referer.status_code == 200, by_referer.text
    # curl and scripts send neither header; a browser sends Origin on every cross-origin POST.
    assert open_ui.post("/api/feeds/poll").status_code == 200
    upload = open_ui.post("/api/documents", files=[("files", NOTE)], headers={"Origin": SELF})
    assert upload.status_code == 201, upload.text
    # Reading is not guarded by the origin: CORS keeps other pages from seeing the answer.
    assert open_ui.get("/api/documents", headers={"Origin": OTHER_PORT}).status_code == 200


def test_a_same_site_page_cannot_use_the_login_cookie(locked: httpx.Client) -> None:
    cookie = login_cookie(locked)
    refused_as_cross_origin(
        locked.post(
            "/api/documents", files=[("files", NOTE)], headers={**cookie, "Origin": OTHER_PORT}
        )
    )
    refused_as_cross_origin(
        locked.post("/api/feeds/poll", headers={**cookie, "Referer": "http://127.0.0.1:1/x"})
    )
    # Without Origin or Referer it is not a browser's page (browsers send Origin on every
    # POST) but a script such as gradio_client, which logs in and then sends the cookie.
    assert locked.post("/api/feeds/poll", headers=cookie).status_code == 200
    mine = locked.post("/api/feeds/poll", headers={**cookie, "Origin": SELF})
    assert mine.status_code == 200, mine.text
    # A bearer token is sent by code that holds it, not by a browser on its own.
    assert locked.post("/api/feeds/poll", headers=BEARER).status_code == 200
    refused_as_cross_origin(
        locked.post("/api/feeds/poll", headers={**BEARER, "Origin": OTHER_SITE})
    )


def test_the_origin_must_match_scheme_host_and_port(open_ui: httpx.Client) -> None:
    for origin in ("https://localhost", "http://localhost:80", "http://LOCALHOST"):
        r = open_ui.post("/api/feeds/poll", headers={"Origin": origin})
        expected = 403 if origin.startswith("https") else 200
        assert r.status_code == expected, (origin, r.text)
    r = open_ui.post(
        "/api/feeds/poll",
        headers={"Host": "127.0.0.1:7860", "Origin": "http://127.0.0.1:7861"},
    )
    refused_as_cross_origin(r)
    r = open_ui.post(
        "/api/feeds/poll",
        headers={"Host": "127.0.0.1:7860", "Origin": "http://127.0.0.1:7860"},
    )
    assert r.status_code == 200, r.text


# --- 3. CORS and Host ---------------------------------------------------------------------------
CORS_DOORS = [
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("GET", "/gradio_api/config"),
    ("GET", "/api/documents"),
    ("GET", "/"),
    ("POST", "/gradio_api/queue/join"),
    ("POST", "/api/ask"),
]


@pytest.mark.parametrize(("method", "path"), CORS_DOORS)
@pytest.mark.parametrize("origin", ["http://localhost:9999", "http://127.0.0.1:3000"])
def test_no_route_sends_cors_headers(
    open_ui: httpx.Client, method: str, path: str, origin: str
) -> None:
    headers = {"Origin": origin}
    r = open_ui.request(method, path, headers=headers)
    assert not [h for h in r.headers if h.startswith("access-control-allow")], r.headers
    preflight = open_ui.options(
        path,
        headers={
            **headers,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert not [h for h in preflight.headers if h.startswith("access-control-")], preflight.headers


@pytest.mark.parametrize(
    "host", ["evil.example", "rebind.evil.example:7860", "127.0.0.1.evil.example", "[::2]:1"]
)
@pytest.mark.parametrize("path", ["/api/documents", "/", "/config", "/health", "/login"])
def test_a_host_that_is_not_this_server_is_refused(
    open_ui: httpx.Client, host: str, path: str
) -> None:
    r = open_ui.get(path, headers={"Host": host})
    assert r.status_code == 421, r.text
    assert "host" in r.text.lower()


@pytest.mark.parametrize("host", ["localhost", "localhost:7860", "127.0.0.1:1", "[::1]:7860"])
def test_loopback_host_names_are_this_server(open_ui: httpx.Client, host: str) -> None:
    r = open_ui.get("/api/documents", headers={"Host": host})
    assert r.status_code == 200, r.text


def test_the_bound_host_and_configured_names_are_this_server(open_assistant: Assistant) -> None:
    a = open_assistant.with_settings(
        host="10.1.2.3", allowed_hosts="news.example.org, Desk.Example"
    )
    with in_process(create_app(a, ui=False), timeout=60) as c:
        for host in ("10.1.2.3:7860", "news.example.org", "desk.example:443", "localhost"):
            assert c.get("/api/documents", headers={"Host": host}).status_code == 200, host
        assert c.get("/api/documents", headers={"Host": "evil.example"}).status_code == 421
        posted = c.post(
            "/api/feeds/poll",
            headers={"Host": "news.example.org", "Origin": "http://news.example.org"},
        )
        assert posted.status_code == 200, posted.text


def test_mcp_uses_the_same_host_names(open_assistant: Assistant, tmp_path: Path) -> None:
    pytest.importorskip("mcp")
    a = open_assistant.with_settings(allowed_hosts="news.example.org")
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    with (
        live_server(a, tmp_path, ui=False) as srv,
        httpx.Client(base_url=srv.url, trust_env=False, timeout=30) as c,
    ):
        proxied = c.post("/mcp", json=init, headers={**accept, "Host": "news.example.org"})
        assert proxied.status_code == 200, proxied.text
        rebound = c.post("/mcp", json=init, headers={**accept, "Host": "evil.example"})
        assert rebound.status_code == 421, rebound.text


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [("http://localhost:7860", True), ("http://localhost:9999", False), (None, True)],
)
def test_a_websocket_from_another_origin_is_closed(origin: str | None, accepted: bool) -> None:
    import asyncio

    from assistant.fronts.origin import OriginCheck, allowed_hosts

    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"localhost:7860")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope = {"type": "websocket", "scheme": "ws", "path": "/ws", "headers": headers}
    asyncio.run(OriginCheck(inner, allowed_hosts("127.0.0.1"))(scope, receive, send))
    assert reached == (["/ws"] if accepted else [])
    assert sent == ([] if accepted else [{"type": "websocket.close", "code": 1008}])
