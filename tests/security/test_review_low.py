"""Low-severity findings of the security review: each refused or neutralised, not crashed on
or passed through."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.fake_slack import event_body, sign
from tests.support.samples import make_settings
from tests.support.security import TOKEN, asgi_request

SLACK_SECRET = "review-signing-secret-3e1f"


# --- Slack: a malformed request timestamp is an unsigned request, not a crash ---------------------
@pytest.fixture(scope="module")
def slack_app(sample_assistant: Assistant) -> Any:
    pytest.importorskip("slack_bolt")
    a = sample_assistant.with_settings(
        slack_bot_token=SecretStr("xoxb-review-0000"),
        slack_signing_secret=SecretStr(SLACK_SECRET),
        slack_api_url="http://127.0.0.1:9/",  # never reached: nothing here is answered
    )
    app = create_app(a, ui=False)
    assert getattr(app.state, "slack", None) is not None
    return app


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "12.5", "١٢٣٤٥", "-1"])
def test_a_malformed_slack_timestamp_gets_401_and_no_traceback(
    slack_app: Any, timestamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = json.dumps(event_body({"type": "app_mention", "text": "hi"})).encode()
    # Signed over the malformed value, so only the timestamp itself can be what is refused.
    base = b"v0:" + timestamp.encode() + b":" + raw
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp.encode(),  # bytes: any header a client can send
        "X-Slack-Signature": signature,
    }
    with caplog.at_level(logging.DEBUG):
        r = asgi_request(slack_app, "POST", "/slack/events", content=raw, headers=headers)
    assert r.status_code == 401, r.text
    assert not [rec for rec in caplog.records if rec.exc_info or rec.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


def test_a_well_formed_slack_timestamp_still_reaches_the_signature_check(
    slack_app: Any,
) -> None:
    body = {"type": "url_verification", "challenge": "c-review", "token": "t"}
    raw = json.dumps(body).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SLACK_SECRET, raw, ts),
    }
    r = asgi_request(slack_app, "POST", "/slack/events", content=raw, headers=headers)
    assert r.status_code == 200 and "c-review" in r.text


# --- SSRF: IPv6 forms that carry an IPv4 address --------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "::127.0.0.1",  # IPv4-compatible (deprecated; some stacks still route it as IPv4)
        "::10.0.0.1",
        "::ffff:0:127.0.0.1",  # IPv4-translated (SIIT)
        "::ffff:0:169.254.169.254",
        "64:ff9b::127.0.0.1",  # NAT64, well-known prefix: the gateway connects to 127.0.0.1
        "64:ff9b::169.254.169.254",
        "64:ff9b::10.1.2.3",
        "64:ff9b:1::808:808",  # NAT64, local-use prefix: a translator of this network
        "64:ff9b:1:ab::8.8.8.8",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:114::1",  # 6to4 of 192.168.1.20
        "fec0::1",  # site-local (deprecated; private in practice)
        "fec0:1:2::127.0.0.1",
    ],
)
def test_ipv6_addresses_that_embed_a_non_public_ipv4_are_refused(
    host: str, no_network: list[object]
) -> None:
    from assistant.errors import FetchFailed
    from assistant.live.fetch import AddressPolicy, Fetcher
    from assistant.settings import LiveSettings

    assert AddressPolicy([]).refusal(host, ipaddress.ip_address(host))
    with pytest.raises(FetchFailed, match="refused to connect"):
        Fetcher(LiveSettings(fetch_allow_hosts=[])).get(f"http://[{host}]/feed")
    assert no_network == [], "no connection may be attempted"


@pytest.mark.parametrize("host", ["64:ff9b::8.8.8.8", "2002:808:808::1", "2606:4700::1111"])
def test_ipv6_addresses_that_embed_a_public_ipv4_are_still_fetched(host: str) -> None:
    # DNS64 answers every IPv4-only site with 64:ff9b::/96: refusing that whole prefix would
    # stop all fetching on IPv6-only networks.
    from assistant.live.fetch import AddressPolicy

    assert AddressPolicy([]).refusal(host, ipaddress.ip_address(host)) is None


def test_the_refusal_names_the_embedded_address() -> None:
    from assistant.live.fetch import AddressPolicy

    why = AddressPolicy([]).refusal("nat64.example", ipaddress.ip_address("64:ff9b::7f00:1"))
    assert why and "loopback" in why and "127.0.0.1" in why


# --- the terminal: what documents say is shown, never acted on ---------------------------------
HOSTILE = {
    "id": "h1",
    "title": "Harbour \x1b]0;pwned\x07budget \x1b]8;;https://evil.example/\x1b\\approved"
    "\x1b]8;;\x1b\\ \x1b[2Jnow\x9b31m final\x1bc",
    "published_at": "2024-03-14",
    "url": "https://news.example/harbour\x1b]52;c;ZXZpbA==\x07",
    "text": "The Elmridge council approved a harbour budget of 5 million dollars "
    "\x1b]52;c;ZXZpbA==\x07on Thursday, the mayor said.\x1bc The budget covers new pontoons "
    "\u202eand a dredging contract\x90q payload\x9c for the\x05 channel\x1b[8m hidden\x1b[0m.",
}
HARBOUR_Q = "How much was the harbour budget the council approved?"
READABLE = ["Harbour", "approved", "now", "final", "Elmridge council", "on Thursday",
            "pontoons", "dredging contract", "channel", "hidden"]  # fmt: skip
# What rich itself writes on a terminal: SGR styles, and OSC 8 links around a source's URL.
OWN_ESCAPES = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;(?:id=\d+)?;([!-~]*)\x1b\\")


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("escapes")
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "h.jsonl").write_text(json.dumps(HOSTILE), encoding="utf-8")
    assert Assistant(make_settings(tmp)).ingest().docs_added == 1
    return tmp


def cli(folder: Path, args: list[str], styled: bool) -> str:
    from typer.testing import CliRunner

    from assistant.fronts.cli import app as cli_app

    env = {"COLUMNS": "100", **({"FORCE_COLOR": "1"} if styled else {})}
    r = CliRunner().invoke(cli_app, [*args, "--index", str(folder / "index")], env=env)
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.parametrize("styled", [False, True], ids=["piped", "terminal"])
def test_escape_sequences_from_documents_never_reach_the_terminal(
    hostile_folder: Path, styled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(hostile_folder)
    answered = cli(hostile_folder, ["ask", HARBOUR_Q], styled)
    opened = cli(hostile_folder, ["open", "1"], styled)
    assert "Sources:" in answered and "[1]" in answered
    for out in (answered, opened):
        links = {m for m in OWN_ESCAPES.findall(out) if m}
        assert links <= {"https://news.example/harbour"}, links
        shown = OWN_ESCAPES.sub("", out)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown), (
            repr(shown)
        )
        assert "evil.example" not in shown and "pwned" not in shown and "ZXZpbA" not in shown
        flat = " ".join(shown.split())
        for words in READABLE:
            assert words in flat, (words, flat)
    assert "\x1b" not in answered + opened or styled


# --- connections: headers within a time limit, and no body read after a refusal -------------------
@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.live_server import live_server

    tmp = tmp_path_factory.mktemp("conn")
    # No index is needed: nothing here gets as far as a question.
    a = Assistant(make_settings(tmp, api_token=SecretStr(TOKEN), body_timeout_seconds=2))
    with live_server(a, tmp, ui=False) as srv:
        yield srv.url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=1)


def closed_within(s: socket.socket, seconds: float, drip: bytes = b"") -> bool:
    """Whether the server closes ``s`` within ``seconds`` (reading what it sends meanwhile);
    ``drip`` is sent every half second, as a slow client keeps a connection busy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if drip:
                s.sendall(drip)
            s.settimeout(0.5)
            if s.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset, or a broken pipe on sending: closed all the same
            return True
    return False


def test_headers_sent_byte_by_byte_are_given_up_on(locked_server: str) -> None:
    s = connect(locked_server)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert closed_within(s, 8, drip=b"X-Slow: 1\r\n"), "incomplete headers held forever"
    finally:
        s.close()


def test_a_refused_request_closes_the_connection_instead_of_reading_the_body(
    locked_server: str,
) -> None:
    s = connect(locked_server)
    try:
        head = b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        s.sendall(head + b"Content-Type: application/json\r\n\r\n" + chunk)
        s.settimeout(5)
        reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 401"), reply
        assert b"connection: close" in reply.lower()
        assert closed_within(s, 5, drip=chunk), "the body was read on after the 401"
    finally:
        s.close()
