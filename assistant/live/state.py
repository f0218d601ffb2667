"""What the live intake remembers: the feeds, the items and pages seen, robots.txt rules.

It lives beside the index (not in a local file), so that several ``assistant serve`` processes
on one Chroma server share it: a feed is polled by one of them at a time (``claim_feed``) and
an item one of them ingested is known to the others.

``LiveState`` is the narrow interface the rest of the code uses; ``ChromaLiveState`` keeps it
in a ``<collection>-live`` Chroma collection, postgres/live.py in PostgreSQL (with
``database_url``); ``open_state`` asks assistant/backends.py which.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

log = logging.getLogger(__name__)

_MUTEX_WAIT = 30.0  # seconds to wait for another process's claim to finish (it takes ms)


@dataclass
class Feed:
    """One followed feed and the outcome of its polls."""

    url: str
    interval: float  # seconds between polls
    added: float  # time.time() when it was added
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    # The index the validators above belong to: after a rebuild the feed is read in full again.
    validators_for: str = ""
    last_poll: float = 0.0
    last_ok: float = 0.0
    next_poll: float = 0.0
    items_ingested: int = 0
    failures: int = 0  # consecutive failed polls: the backoff doubles with each
    last_error: str = ""
    last_result: str = ""
    lease_owner: str = ""  # the process polling it now, until lease_until
    lease_until: float = 0.0

    @property
    def id(self) -> str:
        return feed_id(self.url)

    def take_lease(self, owner: str, now: float, lease: float, force: bool) -> bool:
        """Lease the feed to ``owner`` until ``now + lease`` if nobody else holds a running
        lease and it is due (or ``force``); False, and nothing changed, otherwise."""
        if self.lease_owner not in ("", owner) and self.lease_until > now:
            return False
        if not force and self.next_poll > now:
            return False
        self.lease_owner, self.lease_until = owner, now + lease
        return True


@dataclass
class Seen:
    """A feed item, a fetched page or a site's robots.txt, by ``key`` (see the key helpers)."""

    key: str
    doc_id: str = ""  # the document it became (items and pages)
    hash: str = ""  # of the feed entry (items) or of the fetched body (pages)
    etag: str = ""
    last_modified: str = ""
    feed: str = ""  # the feed's URL, for items
    attempts: int = 0  # failed attempts in a row
    error: str = ""
    checked: float = 0.0
    body: str = ""  # robots.txt text


def feed_id(url: str) -> str:
    """A short stable id for a feed, for `feeds remove` and the API."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]


def item_key(feed_url: str, entry_key: str) -> str:
    return f"item {feed_url}\n{entry_key}"


def page_key(url: str) -> str:
    return f"page {url}"


def robots_key(origin: str) -> str:
    return f"robots {origin}"


class LiveState(Protocol):
    """The intake's shared memory. Every method is atomic on its own; ``claim_feed`` is the
    one that must be atomic across processes (a compare-and-set on the feed's lease)."""

    def feeds(self) -> list[Feed]: ...

    def feed(self, url: str) -> Feed | None: ...

    def save_feed(self, feed: Feed) -> None:
        """Insert or replace ``feed``."""

    def remove_feed(self, url: str) -> bool:
        """Forget the feed and its items; False when there was no such feed."""

    def claim_feed(
        self, url: str, owner: str, now: float, lease: float, force: bool
    ) -> Feed | None:
        """The feed, now leased to ``owner`` until ``now + lease``, if it exists, nobody else
        holds a running lease on it, and it is due (``next_poll <= now``) or ``force``."""

    def release_feed(self, feed: Feed) -> None:
        """Store a poll's outcome and clear the lease, unless the feed was removed meanwhile."""

    def seen(self, keys: list[str]) -> dict[str, Seen]: ...

    def save_seen(self, records: list[Seen]) -> None: ...

    def items_of(self, feed_url: str) -> list[Seen]: ...


def _from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


class RobotsInSeen:
    """robots.RobotsCache kept as seen records, for every ``LiveState`` backend."""

    def seen(self, keys: list[str]) -> dict[str, Seen]:
        raise NotImplementedError

    def save_seen(self, records: list[Seen]) -> None:
        raise NotImplementedError

    def load_robots(self, origin: str) -> tuple[str, float] | None:
        rec = self.seen([robots_key(origin)]).get(robots_key(origin))
        return (rec.body, rec.checked) if rec is not None else None

    def save_robots(self, origin: str, text: str, fetched: float) -> None:
        self.save_seen([Seen(key=robots_key(origin), body=text, checked=fetched)])


class ChromaLiveState(RobotsInSeen):
    """``LiveState`` in the ``<collection>-live`` collection of the index's Chroma (embedded or
    a server). Each record is one JSON document; ``kind`` and ``feed`` are metadata so a feed's
    items can be found. Claims are made under a short mutex: ``flock`` for an index on disk,
    a lease collection on a Chroma server (the same mechanism as the ingestion lock)."""

    def __init__(self, client: Any, collection: str, lock_dir: Any | None, where: str) -> None:
        self.client = client
        self.name = f"{collection}-live"
        self.lock_dir = lock_dir  # None: a Chroma server (lease), else the index folder (flock)
        self.where = where
        self._local = threading.Lock()
        self._coll: Any = None

    # --- storage ----------------------------------------------------------------------------
    @property
    def coll(self) -> Any:
        if self._coll is None:
            self._coll = self.client.get_or_create_collection(self.name, embedding_function=None)
        return self._coll

    def _call(self, op: str, **kw: Any) -> Any:
        from chromadb.errors import NotFoundError

        try:
            return getattr(self.coll, op)(**kw)
        except NotFoundError:  # deleted by someone (a reset of the server): start afresh
            self._coll = None
            return getattr(self.coll, op)(**kw)

    @staticmethod
    def _id(kind: str, key: str) -> str:
        return kind + ":" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def _put(self, kind: str, key: str, record: Any, feed: str = "") -> None:
        self._put_many([(kind, key, record, feed)])

    def _put_many(self, rows: list[tuple[str, str, Any, str]]) -> None:
        import numpy as np

        if not rows:
            return
        unique = {self._id(kind, key): (kind, record, feed) for kind, key, record, feed in rows}
        self._call(
            "upsert",
            ids=list(unique),
            documents=[json.dumps(asdict(r), ensure_ascii=False) for _, r, _ in unique.values()],
            metadatas=[{"kind": k, "feed": f} for k, _, f in unique.values()],
            embeddings=np.zeros((len(unique), 1), dtype=np.float32),
        )

    def _get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None) -> list[dict]:
        kw: dict[str, Any] = {"include": ["documents"]}
        if ids is not None:
            kw["ids"] = ids
        if where is not None:
            kw["where"] = where
        got = self._call("get", **kw)
        return [json.loads(d) for d in got["documents"] or [] if d]

    # --- feeds ------------------------------------------------------------------------------
    def feeds(self) -> list[Feed]:
        found = [_from_dict(Feed, d) for d in self._get(where={"kind": "feed"})]
        return sorted(found, key=lambda f: (f.added, f.url))

    def feed(self, url: str) -> Feed | None:
        found = self._get(ids=[self._id("feed", url)])
        return _from_dict(Feed, found[0]) if found else None

    def save_feed(self, feed: Feed) -> None:
        self._put("feed", feed.url, feed, feed.url)

    def remove_feed(self, url: str) -> bool:
        with self._mutex():
            existed = self.feed(url) is not None
            self._call("delete", where={"feed": url})
            self._call("delete", ids=[self._id("feed", url)])
        return existed

    def claim_feed(
        self, url: str, owner: str, now: float, lease: float, force: bool
    ) -> Feed | None:
        with self._mutex():
            feed = self.feed(url)
            if feed is None or not feed.take_lease(owner, now, lease, force):
                return None
            self.save_feed(feed)
            return feed

    def release_feed(self, feed: Feed) -> None:
        with self._mutex():
            current = self.feed(feed.url)
            if current is None:
                return  # removed while it was being polled
            if current.lease_owner not in ("", feed.lease_owner):
                log.warning("the lease on feed %s passed to %s", feed.url, current.lease_owner)
            feed.lease_owner, feed.lease_until = "", 0.0
            # The interval may have been changed meanwhile (`feeds add` again).
            feed.interval = current.interval
            self.save_feed(feed)

    # --- items, pages and robots.txt ----------------------------------------------------------
    def seen(self, keys: list[str]) -> dict[str, Seen]:
        if not keys:
            return {}
        ids = [self._id("seen", k) for k in dict.fromkeys(keys)]
        out: dict[str, Seen] = {}
        for start in range(0, len(ids), 500):
            for d in self._get(ids=ids[start : start + 500]):
                rec = _from_dict(Seen, d)
                out[rec.key] = rec
        return out

    def save_seen(self, records: list[Seen]) -> None:
        self._put_many([("seen", r.key, r, r.feed) for r in records])

    def items_of(self, feed_url: str) -> list[Seen]:
        found = self._get(where={"$and": [{"kind": "seen"}, {"feed": feed_url}]})
        return [_from_dict(Seen, d) for d in found]

    # --- the claim mutex ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _mutex(self) -> Iterator[None]:
        with self._local:
            if self.lock_dir is None:
                with self._server_mutex():
                    yield
                return
            path = os.path.join(str(self.lock_dir), ".live.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # held for milliseconds; the kernel frees it
                yield
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def _server_mutex(self) -> Iterator[None]:
        from assistant.index.lease import LeaseBusy, ServerLease

        lease = ServerLease(self.client, self.name, 30.0, self.where)
        deadline = time.monotonic() + _MUTEX_WAIT
        while True:
            try:
                lease.acquire()
                break
            except LeaseBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        try:
            yield
        finally:
            lease.release()


def open_state(store: Any) -> LiveState:
    """The live state of the index ``store`` opened (a ``Store``): where the settings keep the
    index's other parts (assistant/backends.py)."""
    from assistant.backends import backend

    return backend(store.settings).live(store)
