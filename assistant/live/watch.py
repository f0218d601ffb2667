"""Following the news: feeds polled on their intervals, folders scanned for changes.

``Watcher.round`` does one pass (``assistant watch --once``); ``Watcher.run`` repeats it until
stopped (``assistant watch``, and a thread of ``assistant serve``). A feed is polled by whichever
process claims it first (``LiveState.claim_feed``), so several servers on one index share the
work instead of repeating it. A folder is listed and its files' stats compared with the last
scan; only when something was added, changed or deleted does an ingestion run (which reads just
the changed files and removes the documents of deleted ones).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from assistant.live.intake import LEASE, Intake
from assistant.live.state import LiveState
from assistant.settings import Settings
from assistant.types import FeedPoll, IngestReport, WatchReport

log = logging.getLogger(__name__)

IDLE_CHECK = 30.0  # seconds between looks for newly added feeds when nothing else is due
FolderIngest = Callable[[list[Path]], IngestReport]


def folder_snapshot(dirs: list[Path]) -> dict[str, tuple[int, int, int]]:
    """Every visible file under ``dirs``: path -> (size, mtime_ns, inode). Cheap: no reads."""
    from assistant.index.readers import iter_files

    snap: dict[str, tuple[int, int, int]] = {}
    for file, _root in iter_files([d for d in dirs if d.is_dir()]):
        try:
            st = file.stat()
        except OSError:
            continue
        snap[str(file)] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return snap


class Watcher:
    def __init__(
        self,
        settings: Settings,
        state: LiveState,
        intake: Callable[[], Intake],
        ingest_folders: FolderIngest,
        dirs: list[Path] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self._intake = intake  # built on first use: a watch of folders alone never fetches
        self.ingest_folders = ingest_folders
        self.dirs = list(dirs if dirs is not None else settings.live.watch_dirs)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._snapshot: dict[str, tuple[int, int, int]] | None = None

    # --- one round ------------------------------------------------------------------------
    def poll_feeds(self, force: bool) -> list[FeedPoll]:
        """Poll every feed that is due (``force``: every feed) and not being polled by another
        process right now."""
        polls = []
        for feed in self.state.feeds():
            now = time.time()
            claimed = self.state.claim_feed(feed.url, self.owner, now, LEASE, force)
            if claimed is None:
                if force:
                    polls.append(FeedPoll(feed.url, feed.title, "busy"))
                continue
            try:
                polls.append(self._intake().poll_feed(claimed, now))
            except Exception as exc:  # a bug or the index server: this feed, not the others
                log.exception("polling %s failed", feed.url)
                claimed.last_error = f"internal error: {type(exc).__name__}: {exc}"
                claimed.next_poll = now + min(claimed.interval, 60.0)
                polls.append(FeedPoll(feed.url, feed.title, "error", error=claimed.last_error))
            finally:
                self.state.release_feed(claimed)
        return polls

    def scan_folders(self) -> IngestReport | None:
        """Ingest the watched folders if anything in them changed since the last scan."""
        if not self.dirs:
            return None
        snapshot = folder_snapshot(self.dirs)
        if snapshot == self._snapshot:
            return None
        report = self.ingest_folders([d for d in self.dirs if d.is_dir()])
        self._snapshot = snapshot
        if report.docs_added or report.docs_updated or report.docs_removed:
            log.info("folders: %s", report.summary().replace("\n", "; "))
        return report

    def round(self, force: bool = True) -> WatchReport:
        t0 = time.perf_counter()
        report = WatchReport(feeds=self.poll_feeds(force), folders=self.scan_folders())
        report.seconds = time.perf_counter() - t0
        return report

    # --- for ever ---------------------------------------------------------------------------
    def next_wait(self) -> float:
        """Seconds until something is due: the next feed, the next folder scan, or a look for
        feeds added meanwhile."""
        wait = IDLE_CHECK
        if self.dirs:
            wait = min(wait, self.settings.live.watch_interval)
        now = time.time()
        for feed in self.state.feeds():
            wait = min(wait, max(feed.next_poll, feed.lease_until) - now)
        return max(wait, 0.2)

    def run(
        self, stop: threading.Event, on_round: Callable[[WatchReport], None] | None = None
    ) -> None:
        """Poll and scan until ``stop`` is set; a failing round is logged and retried."""
        log.info("watching %d feed(s) and %d folder(s)", len(self.state.feeds()), len(self.dirs))
        while not stop.is_set():
            wait = self.settings.live.watch_interval
            try:
                report = self.round(force=False)
                if on_round is not None and (report.feeds or report.folders is not None):
                    on_round(report)
                wait = self.next_wait()
            except Exception:
                log.exception("watch round failed; trying again in %.0f s", wait)
            stop.wait(wait)
