"""Web pages and feed items into the index: fetch, extract, de-duplicate, write.

One page costs one request when nothing changed: the ETag / Last-Modified of its last fetch
make it conditional, and a 304 (or the very same bytes) ends the work there. A page that did
change is extracted again, and written only if the article's text or metadata changed.

A feed poll is one conditional request too; when the feed did change, only its new and changed
items are looked at (an item's hash covers all the feed says of it). An item is the article
behind its link, unless the feed carries the whole text. Items become documents named by their
canonical URL, so the same story from two feeds or two links is one document, and a changed
story replaces its earlier version; a story whose words another document already has (a
syndicated copy under another URL) is not added twice.

Nothing here stops on one bad page: its reason is reported, and it is tried again at the next
poll (the feed's validators are not kept while an item is owed, so the feed is read in full).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from assistant.errors import FetchFailed, IndexBusy, InvalidRequest
from assistant.index.ingestion import ProgressFactory
from assistant.index.readers import doc_id_for
from assistant.index.store import Store
from assistant.live.articles import (
    HTML_ACCEPT,
    Article,
    canonical_url,
    extract_article,
    strip_tracking,
    text_hash,
)
from assistant.live.feeds import FEED_ACCEPT, Entry, parse_feed
from assistant.live.fetch import Fetcher, check_url
from assistant.live.robots import MAX_BYTES as ROBOTS_MAX_BYTES
from assistant.live.robots import Robots, RobotsCache
from assistant.live.state import Feed, LiveState, Seen, item_key, page_key
from assistant.settings import LiveSettings, Settings
from assistant.types import FeedPoll, IngestReport, Source, UrlResult

log = logging.getLogger(__name__)

MAX_URLS = 100  # URLs in one request
ITEM_ATTEMPTS = 3  # failed fetches of an item's article before its feed summary is taken
# How long a poll may take before it leaves the remaining items to the next one: well inside
# the claim's lease, so no other process takes the feed over while this one still works on it.
POLL_BUDGET = 300.0
LEASE = 2 * POLL_BUDGET + 120

# (documents with their extra record fields, doc ids to remove, progress bar factory) -> report
Write = Callable[
    [list[tuple[Source, dict[str, Any]]], list[str], ProgressFactory | None], IngestReport
]


def make_fetcher(settings: LiveSettings, cache: RobotsCache | None = None) -> Fetcher:
    """A ``Fetcher`` that honours robots.txt (unless ``fetch_robots`` is off)."""
    fetcher = Fetcher(settings)
    if settings.fetch_robots:

        def robots_txt(url: str) -> tuple[int, bytes]:
            got = fetcher.get(url, accept="text/plain", max_bytes=ROBOTS_MAX_BYTES, robots=False)
            return got.status, got.body

        fetcher.robots = Robots(settings.fetch_user_agent, robots_txt, cache).check
    return fetcher


@dataclass
class Page:
    """A fetched page: its article, or None when it had not changed."""

    article: Article | None
    seen: Seen  # the page's record, to store once the document is written
    previous_doc: str  # the document the page was before ("" if none)
    requests: int


class Intake:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        state: LiveState,
        write: Write,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.state = state
        self.write = write
        cache = state if hasattr(state, "load_robots") else None
        self.fetcher = fetcher or make_fetcher(settings.live, cache)  # type: ignore[arg-type]

    # --- pages ----------------------------------------------------------------------------
    def fetch_page(self, url: str, present: set[str] | None = None) -> Page:
        """``url`` fetched (conditionally, when its document is still in the index) and its
        article extracted. ``present``: document ids known to exist, to save a look-up."""
        key = page_key(strip_tracking(url))  # one page whatever campaign linked to it
        prior = self.state.seen([key]).get(key)
        if prior is not None and prior.doc_id and present is None:
            present = set(self.store.doc_records([prior.doc_id]))
        known = prior is not None and bool(prior.doc_id) and prior.doc_id in (present or set())
        got = self.fetcher.get(
            url,
            etag=prior.etag if known and prior else "",
            last_modified=prior.last_modified if known and prior else "",
            accept=HTML_ACCEPT,
        )
        now = time.time()
        if known and prior is not None:
            digest = hashlib.sha256(got.body).hexdigest() if not got.not_modified else prior.hash
            if got.not_modified or digest == prior.hash:
                seen = replace(prior, checked=now, attempts=0, error="")
                if got.etag or got.last_modified:
                    seen.etag, seen.last_modified = got.etag, got.last_modified
                return Page(None, seen, prior.doc_id, got.requests)
        article = extract_article(got.body, got.url, got.content_type)
        seen = Seen(
            key=key,
            doc_id=article.doc_id,
            hash=hashlib.sha256(got.body).hexdigest(),
            etag=got.etag,
            last_modified=got.last_modified,
            checked=now,
        )
        return Page(article, seen, prior.doc_id if prior else "", got.requests)

    def _duplicate_of(self, doc_id: str, digest: str) -> dict[str, Any] | None:
        """Another document with the same words, if there is one."""
        for other, meta in self.store.doc_records(where={"text_hash": digest}).items():
            if other != doc_id:
                return {"doc_id": other, **meta}
        return None

    def ingest_urls(
        self, urls: Iterable[str], progress: ProgressFactory | None = None
    ) -> tuple[list[UrlResult], IngestReport]:
        """Fetch each page and bring its article into the index; per URL, what came of it."""
        wanted = list(dict.fromkeys(u.strip() for u in urls if isinstance(u, str) and u.strip()))
        if not wanted:
            raise InvalidRequest("no URL given")
        if len(wanted) > MAX_URLS:
            raise InvalidRequest(f"{len(wanted)} URLs in one request; the limit is {MAX_URLS}")
        t0 = time.perf_counter()
        results: dict[str, UrlResult] = {}
        items: dict[str, tuple[Source, dict[str, Any]]] = {}
        by_doc: dict[str, list[str]] = {}
        seen: list[Seen] = []
        remove: list[str] = []
        unmodified: dict[str, str] = {}  # url -> its document, named from its record below
        extra = IngestReport(urls_seen=len(wanted))
        batch: dict[str, str] = {}  # text hash -> source, for copies within this request
        for url in wanted:
            try:
                check_url(url)
                page = self.fetch_page(url)
            except FetchFailed as exc:
                log.warning("could not ingest %s: %s", url, exc)
                results[url] = UrlResult(url, "failed", reason=str(exc))
                extra.skipped.append((url, str(exc)))
                continue
            seen.append(page.seen)
            if page.article is None:
                extra.docs_unchanged += 1
                extra.urls_not_modified += 1
                results[url] = UrlResult(url, "not modified")
                unmodified[url] = page.seen.doc_id
                continue
            art = page.article
            digest = text_hash(art.text)
            dup = self._duplicate_of(art.doc_id, digest)
            if dup is None and batch.get(digest, art.url) != art.url:
                dup = {"doc_id": doc_id_for(batch[digest]), "source": batch[digest]}
            batch.setdefault(digest, art.url)
            if dup is not None:
                page.seen.doc_id = dup["doc_id"]
                reason = f"same text as {dup.get('source', '')}"
                results[url] = UrlResult(url, "duplicate", dup.get("source"), art.title, reason)
                continue
            items[art.doc_id] = (art.source(fetched_url=url), {"text_hash": digest})
            by_doc.setdefault(art.doc_id, []).append(url)
            results[url] = UrlResult(url, "unchanged", art.url, art.title)
            if page.previous_doc and page.previous_doc != art.doc_id:
                remove.append(page.previous_doc)  # its canonical URL changed
        report = (
            self.write(list(items.values()), remove, progress)
            if items or remove
            else IngestReport()
        )
        self.state.save_seen(seen)
        for status, _title, source in report.arrived:
            for url in by_doc.get(doc_id_for(source), []):
                results[url].status = status
        records = self.store.doc_records(list(unmodified.values()))
        for url, doc_id in unmodified.items():
            meta = records.get(doc_id, {})
            results[url].source, results[url].title = meta.get("source"), meta.get("title")
        report.merge(extra)
        report.seconds = time.perf_counter() - t0
        return [results[u] for u in wanted], report

    # --- feeds ----------------------------------------------------------------------------
    def poll_feed(self, feed: Feed, now: float | None = None) -> FeedPoll:
        """Poll ``feed`` once and ingest what is new or changed in it. ``feed`` is updated in
        place with the outcome (the caller stores it)."""
        now = time.time() if now is None else now
        feed.last_poll = now
        poll = FeedPoll(feed.url, feed.title, "ok")
        index_id = self.store.index_id
        same_index = feed.validators_for == index_id
        try:
            got = self.fetcher.get(
                feed.url,
                etag=feed.etag if same_index else "",
                last_modified=feed.last_modified if same_index else "",
                accept=FEED_ACCEPT,
            )
            if got.not_modified:
                poll.status = feed.last_result = "not modified"
                self._succeeded(feed, now, "")
                return poll
            parsed = parse_feed(got.body, got.url, got.content_type)
        except FetchFailed as exc:
            return self._failed(feed, poll, now, exc)
        feed.title = parsed.title or feed.title
        poll.title = feed.title
        try:
            complete = self._items(feed, parsed.entries, poll, now)
        except IndexBusy as exc:
            # Another writer (an upload, another process): nothing was lost; come back soon.
            poll.status, poll.error = "error", str(exc)
            feed.last_error = f"index busy, retrying: {exc}"
            feed.next_poll = now + min(feed.interval, 30.0)
            return poll
        owed = [f"{i}: {r}" for i, r in poll.failed]
        if complete and not owed:
            feed.etag, feed.last_modified, feed.validators_for = (
                got.etag,
                got.last_modified,
                index_id,
            )
        else:  # read it in full next time: items are owed
            feed.etag = feed.last_modified = feed.validators_for = ""
        problems = (
            [f"{len(owed)} item(s) failed, retried next poll: {owed[0]}"] if owed else []
        ) + ([parsed.warning] if parsed.warning else [])
        feed.items_ingested += poll.added + poll.updated
        feed.last_result = poll.line().split(": ", 1)[-1]
        self._succeeded(feed, now, "; ".join(problems))
        if poll.added or poll.updated:
            log.info(
                "feed %s: %d new, %d updated: %s",
                feed.title or feed.url,
                poll.added,
                poll.updated,
                "; ".join(f"“{t}” {s}" for _, t, s in poll.arrived[:10]),
            )
        return poll

    def _succeeded(self, feed: Feed, now: float, problem: str) -> None:
        feed.last_ok, feed.failures, feed.last_error = now, 0, problem
        feed.next_poll = now + feed.interval

    def _failed(self, feed: Feed, poll: FeedPoll, now: float, exc: FetchFailed) -> FeedPoll:
        feed.failures += 1
        feed.last_error = str(exc)
        wait = min(feed.interval * 2 ** (feed.failures - 1), self.settings.live.feed_max_backoff)
        wait = max(wait, feed.interval, exc.retry_after or 0.0)
        feed.next_poll = now + wait
        feed.last_result = "error"
        poll.status, poll.error = "error", str(exc)
        log.warning("feed %s: %s (next try in %.0f s)", feed.url, exc, wait)
        return poll

    def _items(self, feed: Feed, entries: list[Entry], poll: FeedPoll, now: float) -> bool:
        """Ingest the new and changed entries; False when the time budget ran out first."""
        start = time.monotonic()
        unique = {e.key: e for e in reversed(entries[: self.settings.live.feed_max_items])}
        keys = {k: item_key(feed.url, k) for k in unique}
        prior = self.state.seen(list(keys.values()))
        pages = self.state.seen(
            [page_key(strip_tracking(e.link)) for e in unique.values() if e.link]
        )
        present = set(
            self.store.doc_records(
                [s.doc_id for s in [*prior.values(), *pages.values()] if s.doc_id]
            )
        )
        items: dict[str, tuple[Source, dict[str, Any]]] = {}
        records: list[Seen] = []
        remove: list[str] = []
        complete = True
        batch: dict[str, str] = {}  # text hash -> doc id, for copies within this poll
        for key, entry in reversed(unique.items()):  # in the feed's order
            old = prior.get(keys[key])
            if old and not old.error and old.hash == entry.hash and old.doc_id in present:
                poll.unchanged += 1
                continue
            if time.monotonic() - start > POLL_BUDGET:
                complete = False
                break
            record = Seen(keys[key], hash=entry.hash, feed=feed.url, checked=now)
            try:
                src, page = self._entry_source(entry, feed, present)
            except FetchFailed as exc:
                attempts = (old.attempts if old and old.error else 0) + 1
                if attempts < ITEM_ATTEMPTS or not (entry.summary or entry.content):
                    poll.failed.append((entry.link or entry.key, str(exc)))
                    record.hash, record.attempts, record.error = "", attempts, str(exc)
                    record.doc_id = old.doc_id if old else ""
                    records.append(record)
                    continue
                log.warning("feed %s: %s: %s; taking the feed's summary", feed.url, entry.link, exc)
                src, page = entry_source(entry, feed.url), None
            if page is not None:
                records.append(page.seen)
            if src is None:  # the page was not modified: its document stands
                record.doc_id = page.seen.doc_id if page else ""
                records.append(record)
                poll.unchanged += 1
                continue
            digest = text_hash(src.text)
            dup = self._duplicate_of(src.doc_id, digest)
            if dup is None and batch.get(digest, src.doc_id) != src.doc_id:
                dup = {"doc_id": batch[digest]}
            batch.setdefault(digest, src.doc_id)
            record.doc_id = dup["doc_id"] if dup else src.doc_id
            records.append(record)
            if old and old.doc_id and old.doc_id not in (record.doc_id, ""):
                remove.append(old.doc_id)  # the story moved to another URL
            if dup is not None:
                poll.unchanged += 1
                continue
            items[src.doc_id] = (src, {"text_hash": digest, "feed": feed.url})
        report = (
            self.write(list(items.values()), remove, None) if items or remove else IngestReport()
        )
        self.state.save_seen(records)
        poll.added, poll.updated = report.docs_added, report.docs_updated
        poll.unchanged += report.docs_unchanged
        poll.arrived = report.arrived
        return complete

    def _entry_source(
        self, entry: Entry, feed: Feed, present: set[str]
    ) -> tuple[Source | None, Page | None]:
        if entry.full_text or not entry.link:
            return entry_source(entry, feed.url), None
        page = self.fetch_page(entry.link, present)
        if page.article is None:
            return None, page
        art = page.article
        # The feed's own date and byline are the publisher's word; the page's fill gaps.
        art.published = entry.published or art.published
        art.authors = art.authors or entry.authors
        art.title = art.title or entry.title
        return art.source(fetched_url=entry.link), page


def entry_source(entry: Entry, feed_url: str) -> Source:
    """A feed item's own text (its content, else its summary) as a document."""
    url = canonical_url(None, entry.link)[0] if entry.link else ""
    name = url or f"{feed_url}#{entry.key}"
    text = entry.content or entry.summary or entry.title
    return Source(
        doc_id=doc_id_for(name),
        source=name,
        text=text,
        title=entry.title or text.split("\n", 1)[0][:200],
        url=url or None,
        published=entry.published,
        authors=list(entry.authors),
        extra={"format": "feed", "date_inferred": False, "date_source": "metadata"},
    )
