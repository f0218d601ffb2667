"""The web coming in, as part of ``Assistant``: pages, feeds and watched folders.

A mixin rather than a second object so that front ends keep one surface (``a.add_feed``,
``a.watcher``) while app.py stays the question flow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import validate
from assistant.errors import NotFound
from assistant.types import FeedStatus, IngestReport, Source, UrlResult, WatchReport

if TYPE_CHECKING:
    from assistant.index.ingestion import ProgressFactory
    from assistant.index.store import Store
    from assistant.live.intake import Intake
    from assistant.live.state import Feed, LiveState
    from assistant.live.watch import Watcher
    from assistant.settings import Settings


class LiveNews:
    """Feeds, pages and folders; what it needs of the Assistant is declared below."""

    if TYPE_CHECKING:
        settings: Settings

        @property
        def store(self) -> Store: ...

        def ingest(self, paths: Any, prune: bool = False) -> IngestReport: ...

        def _write_sources(
            self,
            items: list[tuple[Source, dict[str, Any]]],
            remove: list[str],
            progress: ProgressFactory | None = None,
        ) -> IngestReport: ...

    @cached_property
    def live_state(self) -> LiveState:
        """Feeds, items and pages seen, shared through the index (assistant/live/state.py)."""
        from assistant.live.state import open_state

        return open_state(self.store)

    @cached_property
    def intake(self) -> Intake:
        from assistant.live.intake import Intake

        return Intake(self.settings, self.store, self.live_state, self._write_sources)

    def ingest_urls(
        self, urls: Iterable[str], progress: ProgressFactory | None = None
    ) -> tuple[list[UrlResult], IngestReport]:
        """Fetch web pages and index their articles (title, author, date, canonical URL);
        an unchanged page costs one conditional request. Per URL, what came of it; a page
        that cannot be fetched or extracted is reported, never stops the others."""
        return self.intake.ingest_urls(list(urls), progress)

    def feeds(self) -> list[FeedStatus]:
        """The followed feeds with their last poll, items ingested and last error."""
        return [_feed_status(f) for f in self.live_state.feeds()]

    def add_feed(self, url: str, interval: float | str | None = None) -> FeedStatus:
        """Follow an RSS or Atom feed (polled every ``interval``: seconds, or "15m", "2h";
        default ``feed_interval``). Adding a followed feed again changes its interval."""
        import time

        from assistant.live.fetch import check_url
        from assistant.live.state import Feed

        url = url.strip() if isinstance(url, str) else ""
        check_url(url)
        every = (
            self.settings.live.feed_interval
            if interval is None
            else validate.duration(interval, "interval")
        )
        feed = self.live_state.feed(url) or Feed(url=url, interval=every, added=time.time())
        feed.interval = every
        feed.next_poll = min(feed.next_poll, time.time() + every) if feed.last_poll else 0.0
        self.live_state.save_feed(feed)
        return _feed_status(feed)

    def remove_feed(self, feed: str, purge: bool = False) -> tuple[FeedStatus, IngestReport]:
        """Stop following a feed (by URL or id). Its documents stay unless ``purge``."""
        found = self._find_feed(feed)
        doc_ids = [s.doc_id for s in self.live_state.items_of(found.url) if s.doc_id]
        self.live_state.remove_feed(found.url)
        report = IngestReport()
        if purge and doc_ids:
            mine = self.store.doc_records(doc_ids)
            purged = [d for d, m in mine.items() if m.get("feed") == found.url]
            report = self._write_sources([], purged)
        return _feed_status(found), report

    def _find_feed(self, feed: str) -> Feed:
        for f in self.live_state.feeds():
            if feed in (f.url, f.id):
                return f
        raise NotFound(f"no followed feed {feed!r} (see `assistant feeds list`)")

    def watcher(self, dirs: Iterable[Path | str] | None = None) -> Watcher:
        """What ``watch`` runs: feeds on their intervals, and ``dirs`` (default
        ``watch_dirs``) followed: new and changed files ingested, deleted ones removed."""
        from assistant.live.watch import Watcher

        folders = None if dirs is None else [Path(d) for d in dirs]
        missing = [str(d) for d in folders or [] if not d.is_dir()]
        if missing:
            raise FileNotFoundError("no such folder: " + ", ".join(missing))
        return Watcher(
            self.settings,
            self.live_state,
            lambda: self.intake,
            lambda paths: self.ingest(paths, prune=True),
            folders,
        )

    def watch_once(self, dirs: Iterable[Path | str] | None = None) -> WatchReport:
        """Poll every feed (whatever its interval) and scan every watched folder, once."""
        return self.watcher(dirs).round(force=True)

    def start_watching(
        self,
        dirs: Iterable[Path | str] | None = None,
        on_round: Callable[[WatchReport], None] | None = None,
    ) -> Callable[[], None]:
        """Run the watcher in a background thread; returns the function that stops it."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self.watcher(dirs).run, args=(stop, on_round), name="watch", daemon=True
        )
        thread.start()

        def stopper() -> None:
            stop.set()
            thread.join(timeout=30)

        return stopper


def _feed_status(feed: Feed) -> FeedStatus:
    from datetime import UTC, datetime

    def iso(t: float) -> str | None:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t else None

    return FeedStatus(
        id=feed.id,
        url=feed.url,
        title=feed.title,
        interval=feed.interval,
        last_poll=iso(feed.last_poll),
        next_poll=iso(feed.next_poll) if feed.last_poll else None,
        items_ingested=feed.items_ingested,
        last_error=feed.last_error or None,
        failures=feed.failures,
        last_result=feed.last_result,
    )
