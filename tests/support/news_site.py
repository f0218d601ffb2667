"""A real web server on loopback whose pages the tests set, and that logs every request.

Resources answer conditional requests as a real site does (ETag from the body, a
Last-Modified per version), so a test can count what a poll cost. Special resources: redirects,
errors, a slow answer, an endless body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assistant.settings import Settings
from tests.support.samples import make_settings


@dataclass
class Resource:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    stream_bytes: int = 0  # > 0: send this many bytes, chunk by chunk, without a length
    conditional: bool = True  # answer If-None-Match / If-Modified-Since with 304
    modified: float = field(default_factory=time.time)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class Site:
    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.base = ""

    # --- what the site serves ---------------------------------------------------------------
    def put(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            **kw: object) -> str:  # fmt: skip
        """Serve ``body`` at ``path`` (a new version when it changes); returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        old = self.resources.get(path)
        res = Resource(data, content_type, **kw)  # type: ignore[arg-type]
        if old is not None and old.body == data and not kw:
            res.modified = old.modified
        else:
            # A new version is a second newer: Last-Modified has whole seconds.
            res.modified = max(time.time(), (old.modified + 1) if old else 0)
        self.resources[path] = res
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.resources[path] = Resource(status=status, headers={"Location": location})
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def count(self, path: str) -> int:
        return len(self.requests(path))

    # --- the server -------------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[Site]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with site._lock:
                    site.log.append(
                        Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                # Like a real site, a page ignores query parameters it does not know.
                res = site.resources.get(self.path) or site.resources.get(self.path.split("?")[0])
                if res is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                if res.delay:
                    time.sleep(res.delay)
                headers = dict(res.headers)
                if res.status == 200 and res.conditional:
                    headers["ETag"] = res.etag
                    headers["Last-Modified"] = formatdate(res.modified, usegmt=True)
                    if self.headers.get("If-None-Match") == res.etag or (
                        self.headers.get("If-Modified-Since") == headers["Last-Modified"]
                        and "If-None-Match" not in self.headers
                    ):
                        self._send(304, b"", None, headers)
                        return
                if res.stream_bytes:
                    self._stream(res)
                    return
                self._send(res.status, res.body, res.content_type, headers)

            def _send(
                self, status: int, body: bytes, ctype: str | None, headers: dict[str, str]
            ) -> None:
                try:
                    self.send_response(status)
                    if ctype:
                        self.send_header("Content-Type", ctype)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if status != 304:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, res: Resource) -> None:
                chunk = b"<item>" + b"x" * 65_530 + b"</item>\n"
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", res.content_type)
                    self.end_headers()
                    sent = 0
                    while sent < res.stream_bytes:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the client hung up at its size cap, as it should

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.server = server
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)


LOOPBACK = ["127.0.0.1"]


def web_settings(tmp: Path, **kw: object) -> Settings:
    """Settings for an index in ``tmp`` that may fetch from loopback (the test site)."""
    kw.setdefault("fetch_allow_hosts", LOOPBACK)
    kw.setdefault("fetch_timeout", 5.0)
    return make_settings(tmp, **kw)
