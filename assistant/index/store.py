"""The Chroma side of the index: chunk vectors, stored document texts, and the manifest.

Two collections: ``<name>`` holds the chunks (vectors, text, metadata) behind llama-index's
``ChromaVectorStore``; ``<name>-docs`` holds one record per document: its cleaned text (what
citation offsets refer to), metadata and content hash. Keeping the documents in Chroma rather
than in a local docstore file means a Chroma server shares them with every process, and the
per-document write order (chunks first, document record last) keeps the index consistent when
an ingestion is killed: a document whose record is missing or stale is simply redone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from assistant.errors import IndexBusy, IndexMismatch
from assistant.settings import Settings
from assistant.types import Chunk, Source

MANIFEST_KEYS = ("embedder", "dim", "chunk_size", "chunk_overlap", "tokenizer", "schema")
# 2: the embedded text is title + chunk (1 also had the date): vectors of the two don't mix.
SCHEMA_VERSION = 2
_T = TypeVar("_T")
# Chroma needs an embedding per record; document records are looked up by id, never by vector
# (put_docs gives each a 1-dimensional zero vector).


def manifest_for(settings: Settings, dim: int) -> dict[str, Any]:
    return {
        "embedder": settings.index.embedder,
        "dim": dim,
        "chunk_size": settings.index.chunk_size,
        "chunk_overlap": settings.index.chunk_overlap,
        "tokenizer": settings.index.tokenizer,
        "schema": SCHEMA_VERSION,
    }


def _flat(meta: dict[str, Any]) -> dict[str, Any]:
    # Chroma metadata values must be scalars; None is not allowed.
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}


class Store:
    """Opens (or creates) the collections and checks the manifest against the settings."""

    def __init__(self, settings: Settings, dim: int, check: bool = True) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self.manifest = manifest_for(settings, dim)
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if settings.index.chroma_url:
            from urllib.parse import urlparse

            u = urlparse(settings.index.chroma_url)
            self.client = chromadb.HttpClient(
                host=u.hostname or "127.0.0.1",
                port=u.port or (443 if u.scheme == "https" else 8000),
                ssl=u.scheme == "https",
                settings=chroma_settings,
            )
            self.location = settings.index.chroma_url
        else:
            settings.index.index_dir.mkdir(parents=True, exist_ok=True)
            # Absolute: chromadb keeps one system per path *string* in a process, so a relative
            # "index" opened again after a chdir would reuse the first folder's system.
            self.client = chromadb.PersistentClient(
                path=str(settings.index.index_dir.resolve()), settings=chroma_settings
            )
            self.location = str(settings.index.index_dir)
        self._reopen_lock = threading.RLock()
        self._lease: Any = None
        self._dirty = False
        # Bumped whenever the collections are replaced (a rebuild, here or in another process):
        # holders of collection handles (the retriever's vector index) must take new ones.
        self.generation = 0
        self._open()
        if check:
            self.check_manifest()

    def _open(self) -> None:
        self._vector_store: Any = None
        self.chunks = self.client.get_or_create_collection(
            self.settings.index.collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", **self.manifest},
        )
        self.docs = self.client.get_or_create_collection(
            f"{self.settings.index.collection}-docs", embedding_function=None
        )

    # --- manifest -------------------------------------------------------------------------
    def check_manifest(self) -> None:
        stored = self.chunks.metadata or {}
        diffs = [
            f"{k}: index has {stored.get(k)!r}, settings say {self.manifest[k]!r}"
            for k in MANIFEST_KEYS
            if stored.get(k) != self.manifest[k]
        ]
        if diffs:
            raise IndexMismatch(
                f"The index at {self.location} (collection {self.settings.index.collection!r}) "
                "was built "
                "with other settings:\n  "
                + "\n  ".join(diffs)
                + "\nEither use the settings it was built with, or rebuild it: "
                "`assistant ingest --rebuild` (or another --index / collection)."
            )

    def drop(self) -> None:
        """Delete both collections and create them afresh with the current manifest."""
        # Document records go first: a kill in between leaves chunks without records, which
        # the next ingestion treats as orphans, never records whose chunks are gone.
        with self._reopen_lock:
            for name in (f"{self.settings.index.collection}-docs", self.settings.index.collection):
                with contextlib.suppress(Exception):
                    self.client.delete_collection(name)
            self._open()
            self.generation += 1
            self._touch()

    @property
    def vector_store(self) -> Any:
        """llama-index's ``ChromaVectorStore`` over the chunk collection (new after a rebuild):
        the one handle ingestion writes and retrieval searches through."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        with self._reopen_lock:
            if self._vector_store is None:
                self._vector_store = ChromaVectorStore(chroma_collection=self.chunks)
            return self._vector_store

    def write_documents(self, batch: list[tuple[Source, dict[str, Any], list[Any]]]) -> int:
        """Replace the chunks of a batch of documents, in an order that survives a kill
        anywhere; returns how many old chunks were removed. ``batch`` holds each document
        with its record (metadata, content hash) and its embedded llama-index nodes.

        1. every record of the batch is written with hash "pending" (a kill from here on leaves
           records that never match, so the next run redoes these documents);
        2. their old chunks are deleted and the new ones added;
        3. the records are written with their real hash and chunk count.
        A run that finds a final record whose chunk count disagrees with the stored chunks, or
        chunks without a record, repairs that too (ingestion's ``_repair``).
        """
        self.check_writer()  # embedding is the long part: the lease may have gone meanwhile
        self.put_docs(
            [
                (src, {**record, "hash": "pending", "file_hash": "", "file_stat": ""})
                for src, record, _ in batch
            ]
        )
        removed = self.delete_chunks_of(*(src.doc_id for src, _, _ in batch))
        nodes = [n for _, _, doc_nodes in batch for n in doc_nodes]
        if nodes:
            self.vector_store.add(nodes)
        self.put_docs([(src, {**record, "chunks": len(ns)}) for src, record, ns in batch])
        return removed

    # --- documents ------------------------------------------------------------------------
    def doc_records(
        self, ids: list[str] | None = None, where: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """doc_id -> metadata (no texts) of every stored document, or of those with the given
        ``ids`` or matching the metadata filter ``where``."""
        if ids is not None and not ids:
            return {}
        kw: dict[str, Any] = {"include": ["metadatas"]}
        if ids is not None:
            kw["ids"] = list(dict.fromkeys(ids))
        if where is not None:
            kw["where"] = where
        got = self._reading(lambda: self.docs.get(**kw))
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)}

    def update_records(self, records: dict[str, dict[str, Any]]) -> None:
        """Replace the metadata of stored documents (their texts and chunks stay). For
        bookkeeping only (file stats): nothing retrieval sees, so the revision stays."""
        if not records:
            return
        self.docs.update(ids=list(records), metadatas=[_flat(m) for m in records.values()])

    def put_doc(self, src: Source, meta: dict[str, Any]) -> None:
        self.put_docs([(src, meta)])

    def put_docs(self, items: list[tuple[Source, dict[str, Any]]]) -> None:
        """Upsert document records (text + metadata) in one call."""
        if not items:
            return
        self._touch()
        self.docs.upsert(
            ids=[src.doc_id for src, _ in items],
            documents=[src.text for src, _ in items],
            embeddings=np.zeros((len(items), 1), dtype=np.float32),
            metadatas=[_flat(meta) for _, meta in items],
        )

    def doc_records_of(self, doc_ids: list[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """doc_id -> (metadata, stored text) of the given documents that exist."""
        ids = list(dict.fromkeys(doc_ids))
        got = self._reading(lambda: self.docs.get(ids=ids, include=["metadatas", "documents"]))
        return {
            i: (dict(m or {}), t or "")
            for i, m, t in zip(
                got["ids"], got["metadatas"] or [], got["documents"] or [], strict=False
            )
        }

    def doc_texts(self, doc_ids: list[str]) -> dict[str, str]:
        if not doc_ids:
            return {}
        ids = list(dict.fromkeys(doc_ids))
        got = self._reading(lambda: self.docs.get(ids=ids, include=["documents"]))
        return dict(zip(got["ids"], got["documents"] or [], strict=False))

    def delete_doc(self, doc_id: str) -> int:
        """Remove a document's chunks, then its record. Returns the chunks removed."""
        removed = self.delete_chunks_of(doc_id)
        self._touch()
        self.docs.delete(ids=[doc_id])
        return removed

    def delete_chunks_of(self, *doc_ids: str) -> int:
        """Remove every chunk of the given documents. Returns how many were removed."""
        if not doc_ids:
            return 0
        where: dict[str, Any] = (
            {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        )
        ids = self.chunks.get(where=where, include=[])["ids"]
        if ids:
            self._touch()
            self.chunks.delete(ids=ids)
        return len(ids)

    def chunk_counts(self) -> dict[str, int]:
        """doc_id -> number of stored chunks, over the whole collection."""
        counts: dict[str, int] = {}
        for meta in self.iter_chunk_metadata():
            doc_id = str(meta.get("doc_id"))
            counts[doc_id] = counts.get(doc_id, 0) + 1
        return counts

    def iter_chunk_metadata(self, page: int = 5000) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            got = self.chunks.get(include=["metadatas"], limit=page, offset=offset)
            metas = got["metadatas"] or []
            yield from (dict(m or {}) for m in metas)
            if len(metas) < page:
                return
            offset += page

    # --- chunks ---------------------------------------------------------------------------
    def all_chunks(self, page: int = 5000) -> list[tuple[Chunk, dict[str, Any]]]:
        """Every chunk with its public metadata (llama-index's private keys dropped)."""
        out: list[tuple[Chunk, dict[str, Any]]] = []
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            for cid, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False
            ):
                m = {k: v for k, v in dict(meta or {}).items() if not k.startswith("_")}
                out.append((chunk_from(cid, text or "", m), m))
            if len(got["ids"]) < page:
                return out
            offset += page

    def count(self) -> int:
        return int(self._reading(lambda: self.chunks.count()))

    def doc_count(self) -> int:
        return int(self._reading(lambda: self.docs.count()))

    def _reading(self, read: Callable[[], _T]) -> _T:
        """``read()``, retried once on fresh collections if another process replaced them
        (a rebuild) since this store opened them."""
        from chromadb.errors import NotFoundError

        try:
            return read()
        except NotFoundError:
            self.revision()  # reopens (and re-checks the manifest of) the new collections
            return read()

    def revision(self) -> str:
        """Changes whenever an ingestion changed the index, so readers can refresh caches.

        Read from the server (or disk) on every call: the collection object caches its
        metadata from when it was opened, which would hide another process's ingestion.
        """
        from chromadb.errors import NotFoundError

        with self._reopen_lock:
            try:
                fresh = self.client.get_collection(f"{self.settings.index.collection}-docs")
                if fresh.id != self.docs.id:
                    raise NotFoundError("collections were replaced")
            except NotFoundError:
                # Rebuilt by another process: take the new collections (and check them).
                self._open()
                self.generation += 1
                self.check_manifest()
                fresh = self.docs
        meta = fresh.metadata or {}
        return str(meta.get("revision", "0"))

    def bump_revision(self) -> None:
        self.docs.modify(metadata={"revision": uuid.uuid4().hex})

    def _touch(self) -> None:
        # The first change of a writing session moves the revision at once, so a reader never
        # keeps serving a cache of the old index while (or after) this writer dies mid-way.
        if self._dirty:
            return
        self._dirty = True
        self.bump_revision()

    def check_writer(self) -> None:
        """Raise ``IndexBusy`` if this writer lost its server lease (called between batches)."""
        from assistant.index.lease import LeaseLost

        if self._lease is not None:
            try:
                self._lease.check()
            except LeaseLost as exc:
                raise IndexBusy(str(exc)) from None

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Serialise writers of one index; a second one is refused, not queued.

        On disk: ``flock`` on ``<index>/.ingest.lock`` (the kernel drops it when the process
        dies, however it dies). On a Chroma server: a lease record on the server (lease.py).
        """
        with self._writer():
            self._dirty = False
            try:
                yield
            finally:
                if self._dirty:
                    self.bump_revision()
                    self._dirty = False

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        if self.settings.index.chroma_url:
            from assistant.index.lease import LeaseBusy, ServerLease

            where = (
                f"collection {self.settings.index.collection!r} on {self.settings.index.chroma_url}"
            )
            lease = ServerLease(
                self.client,
                self.settings.index.collection,
                self.settings.index.ingest_lease_seconds,
                where,
            )
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
        path = self.settings.index.index_dir / ".ingest.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusy(
                    f"Another ingestion is writing to {self.settings.index.index_dir}; "
                    "wait for it to finish and run again."
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid()}).encode())
            yield
        finally:
            os.close(fd)


def date_int(iso: str | None) -> int:
    """'2022-11-25' -> 20221125, how dates are stored for range filters (Chroma compares only
    numbers); unknown dates are 0."""
    if not iso:
        return 0
    digits = iso.replace("-", "")[:8]
    return int(digits) if digits.isdigit() and len(digits) == 8 else 0


def chunk_number(chunk_id: str) -> int:
    """A chunk's place in its document (0 = the first), from its id ``<doc_id>:<n>``
    (ingestion names chunks so); -1 for an id of another shape."""
    _, _, n = chunk_id.rpartition(":")
    return int(n) if n.isdigit() else -1


def chunk_from(cid: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=cid,
        doc_id=str(meta.get("doc_id", "")),
        text=text,
        start=int(meta.get("start", -1)),
        end=int(meta.get("end", -1)),
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        url=meta.get("url") or None,
        published=meta.get("published") or None,
    )
