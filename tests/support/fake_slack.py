"""A fake of Slack's cloud for tests: the Web API over HTTP and the Socket Mode WebSocket,
both on 127.0.0.1, talked to by the real slack_sdk / slack-bolt clients.

It keeps channels' threads like Slack does (the bot's posts land in them, tests add the people's
messages), records every call, and lets tests wait for a call with a bounded wait.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM = "T0NEWS01"
PERSON = "UALICE01"
T = TypeVar("T")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorization: str


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.ws_url = ""
        self.reject_metadata = False  # as a workspace or proxy that refuses message metadata
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(dict(parse_qsl(urlsplit(self.path).query)))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                params.update(dict(parse_qsl(urlsplit(self.path).query)))
                self._serve(params)

            def _serve(self, params: dict[str, Any]) -> None:
                method = urlsplit(self.path).path.rsplit("/", 1)[-1]
                auth = self.headers.get("Authorization", "")
                body = json.dumps(fake.api(method, params, auth)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the Web API --------------------------------------------------------------------
    def api(self, method: str, params: dict[str, Any], auth: str) -> dict[str, Any]:
        with self._cond:
            self.calls.append(Call(method, params, auth))
            self._cond.notify_all()
            if method == "auth.test":
                return {
                    "ok": True,
                    "url": "https://newsroom.example.slack.com/",
                    "team": "Newsroom",
                    "user": "newsbot",
                    "team_id": TEAM,
                    "user_id": BOT_USER,
                    "bot_id": BOT_ID,
                }
            if method == "chat.postMessage":
                if self.reject_metadata and params.get("metadata"):
                    return {"ok": False, "error": "invalid_metadata_format"}
                msg = {
                    "type": "message",
                    "user": BOT_USER,
                    "bot_id": BOT_ID,
                    "text": params.get("text", ""),
                    "blocks": params.get("blocks", []),
                    "ts": self.next_ts(),
                    "thread_ts": params.get("thread_ts"),
                    "metadata": params.get("metadata"),
                }
                self._thread_of(params["channel"], params.get("thread_ts") or msg["ts"]).append(msg)
                return {"ok": True, "channel": params["channel"], "ts": msg["ts"], "message": msg}
            if method == "conversations.replies":
                full = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
                msgs = [
                    {k: v for k, v in m.items() if full or k != "metadata"}
                    for m in self.threads.get((params["channel"], params["ts"]), [])
                ]
                return {"ok": True, "messages": msgs, "has_more": False}
            if method == "apps.connections.open":
                return {"ok": True, "url": self.ws_url}
            return {"ok": False, "error": "unknown_method"}

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _thread_of(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return self.threads.setdefault((channel, thread_ts), [])

    def add_message(
        self, channel: str, text: str, thread_ts: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A message as a person posts it: stored in its thread, returned as the event body."""
        ts = self.next_ts()
        msg: dict[str, Any] = {"type": "message", "user": PERSON, "text": text, "ts": ts}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        msg.update(extra)
        with self._cond:
            self._thread_of(channel, thread_ts or ts).append(msg)
        return {**msg, "channel": channel}

    # --- what the bot did ---------------------------------------------------------------
    def posts(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                c.params
                for c in self.calls
                if c.method == "chat.postMessage"
                and c.params.get("channel") == channel
                and (thread_ts is None or c.params.get("thread_ts") == thread_ts)
            ]

    def wait_for(self, probe: Callable[[], T], timeout: float = 20.0) -> T:
        """Poll ``probe`` whenever a call arrives, until it returns something truthy."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = probe()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out; calls so far: {[c.method for c in self.calls]}"
                    )
                self._cond.wait(min(left, 1.0))

    # --- Socket Mode ----------------------------------------------------------------------
    @contextmanager
    def socket_mode(self) -> Iterator[SocketModeServer]:
        server = SocketModeServer()
        self.ws_url = server.url
        try:
            yield server
        finally:
            server.close()


class SocketModeServer:
    """Slack's side of a Socket Mode connection: says hello, sends envelopes, collects acks."""

    def __init__(self) -> None:
        from websockets.sync.server import ServerConnection, serve

        self.acks: list[dict[str, Any]] = []
        self._conn: ServerConnection | None = None
        self._cond = threading.Condition()

        def session(conn: ServerConnection) -> None:
            with self._cond:
                self._conn = conn
                self._cond.notify_all()
            conn.send(json.dumps({"type": "hello", "num_connections": 1}))
            for raw in conn:
                with self._cond:
                    self.acks.append(json.loads(raw))
                    self._cond.notify_all()

        self._server = serve(session, "127.0.0.1", 0)
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link/?ticket=test"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def send_event(self, body: dict[str, Any], retry_attempt: int = 0) -> str:
        with self._cond:
            if not self._cond.wait_for(lambda: self._conn is not None, 30):
                raise AssertionError("the bot never connected")
            assert self._conn is not None
            envelope_id = str(uuid.uuid4())
            self._conn.send(
                json.dumps(
                    {
                        "envelope_id": envelope_id,
                        "type": "events_api",
                        "payload": body,
                        "accepts_response_payload": False,
                        "retry_attempt": retry_attempt,
                        "retry_reason": "timeout" if retry_attempt else "",
                    }
                )
            )
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 30.0) -> dict[str, Any]:
        with self._cond:
            found: list[dict[str, Any]] = []

            def acked() -> bool:
                found[:] = [a for a in self.acks if a.get("envelope_id") == envelope_id]
                return bool(found)

            if not self._cond.wait_for(acked, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id}")
            return found[0]

    def close(self) -> None:
        self._server.shutdown()


# --- the Events API side: what Slack sends to the bot ---------------------------------------
def event_body(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0NEWS01",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def sign(secret: str, body: bytes, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post_event(
    url: str,
    secret: str,
    body: dict[str, Any],
    *,
    age: float = 0,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a body as Slack does: JSON, timestamped and signed with the signing secret."""
    raw = json.dumps(body).encode()
    ts = int(time.time() - age)
    return httpx.post(
        url,
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(secret, raw, ts),
            **(headers or {}),
        },
        timeout=10,
    )
