"""The catalog of an index without a database: records in Chroma, keyword segments on disk.

Document records are a Chroma collection ``<name>-docs`` (a Chroma server shares them with
every process); the keyword index is segments.py's, in ``<index_dir>/keyword/<name>`` (with a
Chroma server and no database, each reader builds its own, see search/keyword.py); the queue
lives in this process; the writer lock is a ``flock`` on ``<index_dir>/.ingest.lock`` or a
lease on the Chroma server (lease.py).

Kill safety: ``begin`` writes each claimed document's record with hash "pending" (and, in the
field ``pending``, what it is becoming: its real hashes, or "delete"), ``commit`` writes the
keyword postings and then the final records. ``pending()`` finds the "pending" records (a
metadata query, not a scan) and turns them back into work: an interrupted document is redone
from its stored text even when its file is not part of the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from assistant.errors import IndexBusy
from assistant.index.catalog import Chunker, Claim, WorkItem, iter_pages
from assistant.search.segments import Row, SegmentWriter
from assistant.settings import Settings
from assistant.types import Source

_T = TypeVar("_T")
PAGE = 500  # ids per Chroma request


def _flat(meta: dict[str, Any]) -> dict[str, Any]:
    # Chroma metadata values must be scalars; None is not allowed.
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}


def keyword_folder(settings: Settings) -> Path:
    return settings.index.index_dir / "keyword" / settings.index.collection


def keyword_rows(nodes: list[Any]) -> list[Row]:
    from assistant.search.bm25 import term_counts

    rows = []
    for node in nodes:
        counts, length = term_counts(node)
        m = node.metadata
        rows.append(
            Row(
                node.node_id,
                str(m.get("doc_id", "")),
                counts,
                length,
                int(m.get("pub_int") or 0),
                str(m.get("source", "")),
            )
        )
    return rows


class LocalCatalog:
    def __init__(self, settings: Settings, client: Any, location: str) -> None:
        self.settings = settings
        self.client = client
        self.location = location
        self.docs_name = f"{settings.index.collection}-docs"
        # With a Chroma server the postings would be on one machine's disk: readers build
        # their own (search/keyword.py), so the writer keeps none.
        self.keyword = (
            None if settings.index.chroma_url else SegmentWriter(keyword_folder(settings))
        )
        self._queue: deque[WorkItem] = deque()
        self._lease: Any = None
        self._dirty = False
        self.reopen()

    def reopen(self) -> None:
        self.docs = self.client.get_or_create_collection(self.docs_name, embedding_function=None)

    def _reading(self, read: Callable[[], _T]) -> _T:
        """``read()``, retried once on a fresh handle if another process replaced the
        collection (a rebuild) since it was opened."""
        from chromadb.errors import NotFoundError

        try:
            return read()
        except NotFoundError:
            self.reopen()
            return read()

    # --- reading ----------------------------------------------------------------------------
    def records(
        self,
        doc_ids: list[str] | None = None,
        files: list[str] | None = None,
        where: dict[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        if doc_ids is None and files is None:
            got = [self._get(None, [], where)]
        else:
            column, values = ("ids", doc_ids) if doc_ids is not None else ("file", files)
            pages = iter_pages(list(dict.fromkeys(values or [])), PAGE)
            got = [self._get(column, page, where) for page in pages]
        out: dict[str, dict[str, Any]] = {}
        for g in got:
            out.update(
                {i: dict(m or {}) for i, m in zip(g["ids"], g["metadatas"] or [], strict=False)}
            )
        return out

    def _get(self, column: str | None, values: list[str], where: dict[str, Any] | None) -> Any:
        kw: dict[str, Any] = {"include": ["metadatas"]}
        conditions: list[dict[str, Any]] = [{k: v} for k, v in (where or {}).items()]
        if column == "ids":
            kw["ids"] = values
        elif column is not None:
            conditions.append({column: {"$in": values}})
        if conditions:
            kw["where"] = conditions[0] if len(conditions) == 1 else {"$and": conditions}
        return self._reading(lambda: self.docs.get(**kw))

    def update_records(self, records: dict[str, dict[str, Any]]) -> None:
        self.docs.update(ids=list(records), metadatas=[_flat(m) for m in records.values()])

    def texts(self, doc_ids: list[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        got = self._reading(lambda: self.docs.get(ids=ids, include=["documents"]))
        return dict(zip(got["ids"], got["documents"] or [], strict=False))

    def doc_count(self) -> int:
        return int(self._reading(lambda: self.docs.count()))

    def chunk_count(self) -> int | None:
        return None

    def state(self) -> tuple[str, str]:
        # Read from the server (or disk) each time: the collection object caches its metadata
        # from when it was opened, which would hide another process's ingestion.
        from chromadb.errors import NotFoundError

        try:
            fresh = self.client.get_collection(self.docs_name)
        except NotFoundError:
            return "gone", "0"  # mid-rebuild in another process
        return str(fresh.id), str((fresh.metadata or {}).get("revision", "0"))

    # --- the writer lock --------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, exclusive: bool) -> Iterator[None]:
        """One writer at a time, rebuild or not; a second one is refused, not queued. The
        revision moves at the first change and again at the end, so a reader never keeps a
        cache of the old index while (or after) this writer dies mid-way."""
        with self._lock():
            self._dirty = False
            self._queue.clear()
            try:
                yield
            finally:
                self._queue.clear()
                if self._dirty:
                    self.bump_revision()
                    self._dirty = False

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        s = self.settings.index
        if s.chroma_url:
            from assistant.index.lease import LeaseBusy, ServerLease

            where = f"collection {s.collection!r} on {s.chroma_url}"
            lease = ServerLease(self.client, s.collection, s.ingest_lease_seconds, where)
            try:
                lease.acquire()
            except LeaseBusy as exc:
                raise IndexBusy(str(exc)) from None
            self._lease = lease
            try:
                yield
            finally:
                self._lease = None
                lease.release()
            return
        path = s.index_dir / ".ingest.lock"
        s.index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusy(
                    f"Another ingestion is writing to {s.index_dir}; "
                    "wait for it to finish and run again."
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid()}).encode())
            yield
        finally:
            os.close(fd)

    def check_writer(self) -> None:
        from assistant.index.lease import LeaseLost

        if self._lease is not None:
            try:
                self._lease.check()
            except LeaseLost as exc:
                raise IndexBusy(str(exc)) from None

    def bump_revision(self) -> None:
        self.docs.modify(metadata={"revision": uuid.uuid4().hex})

    def touch(self) -> None:
        if not self._dirty:
            self._dirty = True
            self.bump_revision()

    # --- the queue --------------------------------------------------------------------------
    def pending(self) -> list[WorkItem]:
        got = self._reading(
            lambda: self.docs.get(where={"hash": "pending"}, include=["metadatas", "documents"])
        )
        items = []
        for doc_id, meta, text in zip(
            got["ids"], got["metadatas"] or [], got["documents"] or [], strict=False
        ):
            items.append(_redo(doc_id, dict(meta or {}), text or ""))
        return items

    def enqueue(self, items: list[WorkItem]) -> None:
        # A document planned twice (a repair, then its file read again) is done once, as
        # planned last.
        known = {i.doc_id: i for i in self._queue}
        known.update({i.doc_id: i for i in items})
        self._queue = deque(known.values())

    def claim(self, max_chunks: int, chunk: Chunker) -> Claim | None:
        items: list[WorkItem] = []
        size = 0
        while self._queue and (not items or size < max_chunks):
            item = self._queue.popleft()
            if item.op == "upsert" and item.nodes is None:
                chunk(item)
            items.append(item)
            size += len(item.nodes or ())
        return Claim(items) if items else None

    def begin(self, claim: Claim) -> None:
        self.touch()
        deleting = [i.doc_id for i in claim.items if i.op == "delete"]
        current = self.records(doc_ids=deleting) if deleting else {}
        texts = self.texts(list(current))
        marks: list[tuple[str, str, dict[str, Any]]] = []
        for item in claim.items:
            if item.op == "upsert" and item.source is not None:
                want = f"upsert {item.record.get('hash', '')} {item.record.get('file_hash', '')}"
                meta = {**item.record, "hash": "pending", "file_hash": "", "file_stat": ""}
                meta["pending"] = want
                marks.append((item.doc_id, item.source.text, meta))
            elif item.doc_id in current:
                meta = {**current[item.doc_id], "hash": "pending", "pending": "delete"}
                marks.append((item.doc_id, texts.get(item.doc_id, ""), meta))
        self.put_docs(marks)

    def commit(self, claim: Claim) -> None:
        if self.keyword is not None:
            nodes = [n for i in claim.items for n in (i.nodes or ())]
            self.keyword.replace([i.doc_id for i in claim.items], keyword_rows(nodes))
        # Chroma merges metadata on upsert: "pending" is overwritten, not left behind.
        finals = [
            (i.doc_id, i.source.text, {**i.record, "chunks": len(i.nodes or ()), "pending": ""})
            for i in claim.items
            if i.op == "upsert" and i.source is not None
        ]
        self.put_docs(finals)
        gone = [i.doc_id for i in claim.items if i.op == "delete"]
        if gone:
            self.docs.delete(ids=gone)

    def release(self, claim: Claim) -> None:
        return None  # begun documents stay "pending" for the next run

    def move(self, src: Source, record: dict[str, Any]) -> None:
        self.touch()
        self.put_docs([(src.doc_id, src.text, record)])

    def put_docs(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Upsert document records (id, text, metadata) in one call."""
        if not items:
            return
        self.touch()
        self.docs.upsert(
            ids=[doc_id for doc_id, _, _ in items],
            documents=[text for _, text, _ in items],
            # Chroma needs an embedding per record; records are looked up by id, never by
            # vector.
            embeddings=np.zeros((len(items), 1), dtype=np.float32),
            metadatas=[_flat(meta) for _, _, meta in items],
        )

    # --- rebuilding -------------------------------------------------------------------------
    def drop_records(self) -> None:
        # Records go first: a kill before the chunks are gone leaves chunks without records,
        # which no reader cites and the rebuild's next attempt drops with the collection.
        with contextlib.suppress(Exception):
            self.client.delete_collection(self.docs_name)
        if self.keyword is not None:
            self.keyword.clear()

    def dropped(self) -> None:
        self.reopen()
        self._dirty = False
        self.touch()


def _redo(doc_id: str, meta: dict[str, Any], text: str) -> WorkItem:
    """The work a "pending" record stands for ("upsert <hash> <file hash>" or "delete"; an
    index written by an older version has no such note: its file is read again)."""
    op, _, hashes = str(meta.get("pending") or "upsert").partition(" ")
    if op == "delete":
        return WorkItem(doc_id, "delete")
    record = {k: v for k, v in meta.items() if k not in ("pending", "chunks") and v is not None}
    record["hash"], _, record["file_hash"] = hashes.partition(" ")
    authors = str(meta.get("authors") or "")
    src = Source(
        doc_id=doc_id,
        source=str(meta.get("source", "")),
        text=text,
        title=str(meta.get("title", "")),
        url=meta.get("url") or None,
        published=meta.get("published") or None,
        authors=[a for a in authors.split(", ") if a],
        extra={"date_inferred": bool(meta.get("date_inferred"))},
    )
    return WorkItem(doc_id, "upsert", src, record, is_update=True)
