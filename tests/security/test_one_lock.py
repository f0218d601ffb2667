"""Finding 2 (high): one credential protects every route of the server: the JSON and OpenAI
APIs, the web UI, Gradio's own API (named, private and upload routes), documents; a person logs
in to the UI with the same credential or a password; wrong passwords are slowed down; a server
listening beyond loopback without credentials refuses to start unless told ``--insecure``."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from pydantic import SecretStr
from starlette.responses import PlainTextResponse

from assistant.fronts.http import create_app
from tests.support.live_server import LiveServer, live_server
from tests.support.samples import NATO_QUESTION, sample_assistant_in
from tests.support.security import BEARER, PASSWORD, TOKEN, USERNAME, asgi_get, asgi_request
from tests.support.servers import cli_env, free_port, run_cli, start_cli, stop, wait_http

# Every kind of door the server has, asked without credentials.
DOORS = [
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("GET", "/gradio_api/config"),
    ("POST", "/gradio_api/call/respond"),
    ("POST", "/gradio_api/call/documents"),
    ("POST", "/gradio_api/call/documents_on_load"),  # a "private" handler
    ("POST", "/gradio_api/call/upload"),
    ("POST", "/gradio_api/queue/join"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file=README.md"),
    ("GET", "/gradio_api/heartbeat/abc"),
    ("GET", "/theme.css"),
    ("GET", "/openapi.json"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/ask"),
    ("GET", "/api/documents"),
    ("POST", "/api/documents"),
    ("DELETE", "/api/documents"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/api/feeds"),
    ("POST", "/mcp"),
    ("GET", "/metrics"),
    ("GET", "/document/d0000000000000000"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Only the API token is set, as many newsrooms run it."""
    tmp = tmp_path_factory.mktemp("lock")
    with live_server(sample_assistant_in(tmp, api_token=SecretStr(TOKEN)), tmp) as srv:
        yield srv


@pytest.fixture(scope="module")
def two_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("lock2")
    a = sample_assistant_in(
        tmp, api_token=SecretStr(TOKEN), ui_username=USERNAME, ui_password=SecretStr(PASSWORD)
    )
    with live_server(a, tmp) as srv:
        yield srv


@pytest.mark.parametrize(("method", "path"), DOORS)
def test_every_door_is_locked_by_the_token_alone(
    server: LiveServer, method: str, path: str
) -> None:
    r = httpx.request(
        method, server.url + path, json={"data": [], "fn_index": 0}, timeout=30, trust_env=False
    )
    assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text[:300]}"
    assert r.json()["error"]["code"] == "unauthorized"


def test_a_browser_without_credentials_is_sent_to_the_login_page(server: LiveServer) -> None:
    r = httpx.get(server.url + "/", headers={"Accept": "text/html"}, trust_env=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"
    page = httpx.get(server.url + "/login", trust_env=False)
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<body", 1)[1]


def test_gradio_client_without_credentials_gets_nothing(server: LiveServer) -> None:
    with pytest.raises(Exception):  # noqa: B017 (whatever gradio_client makes of a 401)
        Client(server.url + "/", verbose=False, download_files=False).predict(
            NATO_QUESTION, api_name="/respond"
        )


def test_the_token_opens_every_door(server: LiveServer, tmp_path: Path) -> None:
    # As a bearer header (scripts), and as the password of the login form (people).
    for n, kw in enumerate(({"headers": BEARER}, {"auth": ("anyone", TOKEN)})):
        c = Client(server.url + "/", verbose=False, download_files=False, **kw)  # type: ignore[arg-type]
        try:
            chat, *_ = c.predict(NATO_QUESTION, api_name="/respond")
            assert len(chat) == 2
            assert len(c.predict(api_name="/documents")["data"]) >= 2
            note = tmp_path / f"note{n}.md"  # a second upload of one name would be kept beside
            note.write_text("# Ferry timetable\n\nThe Oban ferry runs hourly from May.\n")
            status, _, _ = c.predict([handle_file(str(note))], api_name="/upload")
            assert f"note{n}.md</strong>: 1 document indexed" in status
        finally:
            c.close()
    with httpx.Client(base_url=server.url, headers=BEARER, trust_env=False, timeout=60) as h:
        assert h.get("/api/openapi.json").status_code == 200
        assert h.get("/config").status_code == 200
        assert h.post("/api/ask", json={"question": NATO_QUESTION}).status_code == 200


def test_a_person_logs_in_with_the_password_and_out_again(two_credentials: LiveServer) -> None:
    url = two_credentials.url
    with httpx.Client(base_url=url, trust_env=False, timeout=60) as browser:
        r = browser.post(
            "/login",
            data={"username": USERNAME, "password": PASSWORD, "next": "/"},
            headers={"Accept": "text/html"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert browser.get("/", headers={"Accept": "text/html"}).status_code == 200
        assert browser.get("/api/documents").status_code == 200  # one session, every door
        browser.get("/logout")
        assert browser.get("/api/documents").status_code == 401
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    r = httpx.get(url + "/api/documents", headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200
    wrong = httpx.post(url + "/login", data={"username": USERNAME, "password": "nope"})
    assert wrong.status_code == 401
    # A login page's "next" never sends the browser to another site.
    r = httpx.post(
        url + "/login",
        data={"username": USERNAME, "password": PASSWORD, "next": "//evil.example/"},
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_repeated_wrong_passwords_are_slowed_down(tmp_path: Path) -> None:
    a = sample_assistant_in(tmp_path, ui_username=USERNAME, ui_password=SecretStr(PASSWORD))
    with live_server(a, tmp_path, ui=False) as srv, httpx.Client(base_url=srv.url) as c:
        codes = [c.post("/login", data={"username": USERNAME, "password": f"guess{i}"}).status_code
                 for i in range(40)]  # fmt: skip
        assert codes[0] == 401 and 429 in codes
        assert codes.count(401) <= 25  # most guesses were never even checked
        r = c.post("/login", data={"username": USERNAME, "password": PASSWORD})
        assert r.status_code == 429  # the right one too, until the wait is over
        assert int(r.headers["retry-after"]) >= 1
        assert "too many failed logins" in r.json()["error"]["message"]
        assert c.get("/health").status_code == 200


def test_new_routes_mounted_in_the_app_are_behind_the_lock(tmp_path: Path) -> None:
    """A route added to the app (as /mcp and /metrics were) needs no line of its own: the
    guard in front of the app covers it."""
    a = sample_assistant_in(tmp_path, api_token=SecretStr(TOKEN))
    app = create_app(a, ui=False)
    app.add_route("/extra", lambda request: PlainTextResponse("requests_total 1\n"))
    assert asgi_get(app, "/extra").status_code == 401
    assert asgi_get(app, "/extra", headers=BEARER).text == "requests_total 1\n"
    # Slack's Events API is the one door Slack's signature guards instead of our token.
    assert asgi_request(app, "POST", "/slack/events", json={}).status_code != 401


def test_serving_beyond_loopback_needs_credentials_or_insecure(tmp_path: Path) -> None:
    env = cli_env()
    refused = run_cli(["serve", "--host", "0.0.0.0", "--port", str(free_port())], tmp_path, env)
    assert refused.returncode != 0
    assert "--insecure" in refused.stderr and "ASSISTANT_API_TOKEN" in refused.stderr
    port = free_port()
    proc = start_cli(
        ["serve", "--host", "0.0.0.0", "--port", str(port), "--insecure"], tmp_path, env
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 120, proc)  # type: ignore[arg-type]
    finally:
        stop(proc)  # type: ignore[arg-type]
