"""robots.txt, honoured before every page or feed request (RFC 9309).

A site's rules are fetched once and kept for a day (in memory and, through ``RobotsCache``, in
the index, so that a command run again tomorrow morning does not fetch them again). What the
answer means:

- 200: the rules for our user agent's first word (``newsroom-assistant``), else for ``*``;
- 4xx (none published, or not for us to read): everything is allowed;
- 5xx, a timeout or a broken connection: nothing is allowed for now; the page is reported and
  tried again at the next poll, and the failure is not kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from assistant.errors import FetchFailed

KEEP_SECONDS = 24 * 3600
MAX_BYTES = 512 * 1024  # more than any real robots.txt (Google reads the first 500 KiB)
_FAILURE_SECONDS = 60.0  # one poll round does not ask a failing host again


class RobotsCache(Protocol):
    """Where fetched rules are kept across processes: ``(text, fetched at)`` by origin."""

    def load_robots(self, origin: str) -> tuple[str, float] | None: ...

    def save_robots(self, origin: str, text: str, fetched: float) -> None: ...


class Robots:
    """``check(url)`` raises ``FetchFailed`` when robots.txt does not allow the URL."""

    def __init__(
        self,
        user_agent: str,
        fetch: Callable[[str], tuple[int, bytes]],
        cache: RobotsCache | None = None,
    ) -> None:
        # The product token robots.txt groups are matched against: "newsroom-assistant".
        self.agent = user_agent.split()[0].split("/")[0] or "*"
        self.fetch = fetch  # url -> (status, body); raises FetchFailed when there is no answer
        self.cache = cache
        self._rules: dict[str, tuple[RobotFileParser, float]] = {}
        self._failed: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        rules = self._rules_for(origin)
        if not rules.can_fetch(self.agent, url):
            raise FetchFailed(f"robots.txt of {parts.netloc} does not allow fetching {url}")

    def _rules_for(self, origin: str) -> RobotFileParser:
        now = time.time()
        with self._lock:
            known = self._rules.get(origin)
            failed = self._failed.get(origin)
        if known is not None and now - known[1] < KEEP_SECONDS:
            return known[0]
        if failed is not None and now - failed[1] < _FAILURE_SECONDS:
            raise FetchFailed(failed[0])
        stored = self.cache.load_robots(origin) if self.cache is not None else None
        if stored is not None and now - stored[1] < KEEP_SECONDS:
            return self._remember(origin, stored[0], stored[1])
        try:
            status, body = self.fetch(origin + "/robots.txt")
        except FetchFailed as exc:
            status, body = exc.http_status or 0, b""
            if not 400 <= status < 500:
                reason = f"robots.txt of {urlsplit(origin).netloc} could not be read ({exc})"
                with self._lock:
                    self._failed[origin] = (reason, now)
                raise FetchFailed(reason, retry_after=exc.retry_after) from None
        # A 4xx means there are no rules for us: an empty file allows everything.
        text = body[:MAX_BYTES].decode("utf-8", "replace") if status == 200 else ""
        if self.cache is not None:
            self.cache.save_robots(origin, text, now)
        return self._remember(origin, text, now)

    def _remember(self, origin: str, text: str, fetched: float) -> RobotFileParser:
        rules = RobotFileParser()
        rules.parse(text.splitlines())
        rules.modified()  # can_fetch refuses everything until the rules count as read
        with self._lock:
            self._rules[origin] = (rules, fetched)
            self._failed.pop(origin, None)
        return rules
