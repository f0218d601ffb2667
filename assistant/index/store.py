"""The Chroma side of the index (chunk vectors and the manifest) and the write order.

The chunks of every document live in one Chroma collection ``<name>`` behind llama-index's
``ChromaVectorStore``, under ids ``<doc_id>:<n>``; the collection's metadata is the manifest
(what built the index). Everything committed after the vectors (document records, keyword
postings, the revision, the writer lock and the queue of work) is the catalog's
(catalog.py), kept in Chroma and on disk (local.py) or in PostgreSQL (postgres/), as the
settings choose (backends.py). ``write_batch`` owns the order that survives a kill anywhere.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from assistant.errors import IndexBusy, IndexMismatch  # noqa: F401  (IndexBusy: re-exported)
from assistant.index.catalog import Catalog, Claim
from assistant.settings import Settings
from assistant.types import Chunk, Source

MANIFEST_KEYS = ("embedder", "dim", "chunk_size", "chunk_overlap", "tokenizer", "schema")
# 2: the embedded text is title + chunk (1 also had the date): vectors of the two don't mix.
SCHEMA_VERSION = 2
_T = TypeVar("_T")


def manifest_for(settings: Settings, dim: int) -> dict[str, Any]:
    return {
        "embedder": settings.index.embedder,
        "dim": dim,
        "chunk_size": settings.index.chunk_size,
        "chunk_overlap": settings.index.chunk_overlap,
        "tokenizer": settings.index.tokenizer,
        "schema": SCHEMA_VERSION,
    }


def chroma_client(settings: Settings) -> tuple[Any, str]:
    """A Chroma client for the settings (a server, or the on-disk index) and where it is."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.index.chroma_url:
        from urllib.parse import urlparse

        u = urlparse(settings.index.chroma_url)
        client = chromadb.HttpClient(
            host=u.hostname or "127.0.0.1",
            port=u.port or (443 if u.scheme == "https" else 8000),
            ssl=u.scheme == "https",
            settings=chroma_settings,
        )
        return client, settings.index.chroma_url
    settings.index.index_dir.mkdir(parents=True, exist_ok=True)
    # Absolute: chromadb keeps one system per path *string* in a process, so a relative
    # "index" opened again after a chdir would reuse the first folder's system.
    client = chromadb.PersistentClient(
        path=str(settings.index.index_dir.resolve()), settings=chroma_settings
    )
    return client, str(settings.index.index_dir)


class Store:
    """Opens (or creates) the chunk collection, checks the manifest against the settings, and
    holds the catalog the settings choose."""

    def __init__(self, settings: Settings, dim: int, check: bool = True) -> None:
        from assistant.backends import backend

        self.settings = settings
        self.manifest = manifest_for(settings, dim)
        self.client, self.location = chroma_client(settings)
        self._reopen_lock = threading.RLock()
        # Bumped whenever the collections are replaced (a rebuild, here or in another process):
        # holders of collection handles (the retriever's vector index) must take new ones.
        self.generation = 0
        self._open()
        self.catalog: Catalog = backend(settings).catalog(settings, self.client, self.location)
        self._epoch = self.catalog.state()[0]
        if check:
            self.check_manifest()

    def _open(self) -> None:
        self._vector_store: Any = None
        self.chunks = self.client.get_or_create_collection(
            self.settings.index.collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", **self.manifest},
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
        """Delete the index and create it afresh with the current manifest."""
        with self._reopen_lock:
            self.catalog.drop_records()
            with contextlib.suppress(Exception):
                self.client.delete_collection(self.settings.index.collection)
            self._open()
            self.catalog.dropped()
            self._epoch = self.catalog.state()[0]
            self.generation += 1

    @property
    def vector_store(self) -> Any:
        """llama-index's ``ChromaVectorStore`` over the chunk collection (new after a rebuild):
        the one handle ingestion writes and retrieval searches through."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        with self._reopen_lock:
            if self._vector_store is None:
                self._vector_store = ChromaVectorStore(chroma_collection=self.chunks)
            return self._vector_store

    def write_batch(self, claim: Claim) -> int:
        """Write a claimed batch in the order that survives a kill anywhere; returns how many
        old chunks were removed. Each item carries its embedded nodes (or is a deletion).

        1. the catalog is told (the local one marks the records "pending": a kill from here
           on leaves records that the next run redoes; in PostgreSQL the claimed queue rows
           stay until step 3 commits);
        2. the documents' old chunks are deleted from Chroma and the new ones added;
        3. the catalog commits records and keyword postings (last).
        """
        self.catalog.check_writer()  # embedding is the long part: the lock may have gone
        self.catalog.begin(claim)
        removed = self.delete_chunks_of(*(i.doc_id for i in claim.items))
        nodes = [n for i in claim.items for n in (i.nodes or ())]
        if nodes:
            self.vector_store.add(nodes)
        self.catalog.commit(claim)
        return removed

    # --- documents (the catalog's) --------------------------------------------------------
    def doc_records(
        self, ids: list[str] | None = None, where: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """doc_id -> metadata (no texts) of every stored document, or of those with the given
        ``ids`` or whose fields equal the ``where`` values."""
        if ids is not None and not ids:
            return {}
        return self.catalog.records(doc_ids=ids, where=where)

    def update_records(self, records: dict[str, dict[str, Any]]) -> None:
        """Replace the metadata of stored documents (their texts and chunks stay). For
        bookkeeping only (file stats): nothing retrieval sees, so the revision stays."""
        if records:
            self.catalog.update_records(records)

    @property
    def index_id(self) -> str:
        """Changes when the index is rebuilt (what was known about the old one is void)."""
        return self.catalog.state()[0]

    def put_doc(self, src: Source, meta: dict[str, Any]) -> None:
        self.catalog.move(src, meta)

    def doc_records_of(self, doc_ids: list[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """doc_id -> (metadata, stored text) of the given documents that exist."""
        records = self.catalog.records(doc_ids=doc_ids)
        texts = self.catalog.texts(list(records))
        return {d: (m, texts.get(d, "")) for d, m in records.items()}

    def doc_texts(self, doc_ids: list[str]) -> dict[str, str]:
        return self.catalog.texts(doc_ids) if doc_ids else {}

    def doc_count(self) -> int:
        return self.catalog.doc_count()

    def delete_chunks_of(self, *doc_ids: str) -> int:
        """Remove every chunk of the given documents. Returns how many were removed."""
        if not doc_ids:
            return 0
        where: dict[str, Any] = (
            {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        )
        ids = self.chunks.get(where=where, include=[])["ids"]
        if ids:
            self.chunks.delete(ids=ids)
        return len(ids)

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
    def iter_chunks(self, page: int = 5000) -> Iterator[list[tuple[Chunk, dict[str, Any]]]]:
        """Every chunk with its public metadata (llama-index's private keys dropped), a page
        at a time."""
        offset = 0
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            out = []
            for cid, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False
            ):
                m = {k: v for k, v in dict(meta or {}).items() if not k.startswith("_")}
                out.append((chunk_from(cid, text or "", m), m))
            yield out
            if len(got["ids"]) < page:
                return
            offset += page

    def all_chunks(self) -> list[tuple[Chunk, dict[str, Any]]]:
        return [c for page in self.iter_chunks() for c in page]

    def chunks_by_id(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """chunk id -> (text, public metadata) of the given chunks that exist."""
        if not ids:
            return {}
        got = self.chunks.get(ids=ids, include=["documents", "metadatas"])
        return {
            cid: (text or "", {k: v for k, v in dict(m or {}).items() if not k.startswith("_")})
            for cid, text, m in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False
            )
        }

    def count(self) -> int:
        kept = self.catalog.chunk_count()
        return int(self._reading(lambda: self.chunks.count())) if kept is None else kept

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
        """Changes whenever a writer changed the index, so readers can refresh caches; when
        another process rebuilt it, the collection is reopened (and its manifest checked)."""
        with self._reopen_lock:
            epoch, revision = self.catalog.state()
            if epoch != self._epoch and epoch != "gone":
                self._open()
                self.catalog.reopen()
                self._epoch = epoch
                self.generation += 1
                self.check_manifest()
        return revision

    # --- the writer -----------------------------------------------------------------------
    def check_writer(self) -> None:
        """Raise ``IndexBusy`` if this writer lost its lock (called between batches)."""
        self.catalog.check_writer()

    @property
    def _lease(self) -> Any:
        return getattr(self.catalog, "_lease", None)

    @contextlib.contextmanager
    def write_lock(self, exclusive: bool = False) -> Iterator[None]:
        """Serialise writers of one index: a second one is refused, not queued (with a
        database, ingestions share the queue and only a rebuild excludes the others)."""
        with self.catalog.writer(exclusive):
            yield


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
