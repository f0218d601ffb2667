"""Keyword retrieval: BM25 over the chunks, behind one small interface.

``KeywordIndex`` is what retrieval needs of a keyword backend: candidates for a query under
filters, the IDF of a term (answering weighs question terms by it), and the newest publication
date (the default ``as_of``). Backends (assistant/backends.py): ``Bm25Index`` here, over the
on-disk segments of search/segments.py, and ``PgKeywordIndex`` in PostgreSQL
(postgres/keyword.py). Both count and score the same way (search/bm25.py), so retrieval and
its fusion are the same whichever is used.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import weakref
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from llama_index.core.schema import NodeWithScore, TextNode

from assistant.errors import IndexBusy
from assistant.index.store import Store, date_int
from assistant.search import bm25
from assistant.search.recency import parse_iso
from assistant.search.segments import SegmentIndex, SegmentWriter
from assistant.settings import Settings
from assistant.types import Filters

log = logging.getLogger(__name__)

# Chunk metadata kept on a keyword hit (what it needs to become a Chunk).
NODE_KEYS = ("title", "published", "doc_id", "source", "url", "start", "end", "pub_int")


class KeywordIndex(Protocol):
    def search(self, query: str, k: int, filters: Filters | None) -> list[NodeWithScore]: ...

    def idf(self, term: str) -> float | None: ...

    def newest_date(self) -> date | None: ...

    def warm_up(self) -> None: ...


class Bm25Index:
    """BM25 over the index's on-disk segments (memory-mapped; hits' text is read from
    Chroma), reloaded when the index revision changes, which costs a manifest read, not a
    rebuild. With a Chroma server and no database there is no shared disk: each process
    builds the segments from every chunk into a temporary folder whenever another process
    changed the index (set database_url to avoid that). Safe to share between threads."""

    def __init__(self, store: Store, settings: Settings) -> None:
        from assistant.index.local import keyword_folder

        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self._state: SegmentIndex | None = None
        self._revision: str | None = None
        self._idf: dict[str, float | None] = {}
        self._private: Path | None = None
        if settings.index.chroma_url:
            self._private = Path(tempfile.mkdtemp(prefix="assistant-bm25-"))
            weakref.finalize(self, shutil.rmtree, self._private, True)
            self.folder = self._private / "keyword"
        else:
            self.folder = keyword_folder(settings)

    # --- the interface ----------------------------------------------------------------------
    def search(self, query: str, k: int, filters: Filters | None) -> list[NodeWithScore]:
        state = self._current()
        if state is None:
            return []
        f = filters or Filters()
        hits = state.search(
            bm25.analyze(query),
            k,
            since=date_int(f.since) if f.since else 0,
            until=date_int(f.until) if f.until else 0,
            sources=f.sources,
            exclude_docs=f.exclude_docs,
        )
        found = self.store.chunks_by_id([h.chunk_id for h in hits])
        return [
            NodeWithScore(node=node_for(h.chunk_id, *found[h.chunk_id]), score=h.score)
            for h in hits
            if h.chunk_id in found  # a writer may have just removed it
        ]

    def idf(self, term: str) -> float | None:
        """Inverse document frequency of a stemmed term over the chunks; None if unseen."""
        state = self._current()
        if state is None:
            return None
        with self._lock:
            if term in self._idf:
                return self._idf[term]
        value = state.idf(term)
        with self._lock:
            self._idf[term] = value
        return value

    def newest_date(self) -> date | None:
        state = self._current()
        return None if state is None or state.newest is None else parse_iso(str(state.newest))

    def warm_up(self) -> None:
        self._current()

    # --- loading ----------------------------------------------------------------------------
    def _current(self) -> SegmentIndex | None:
        revision = self.store.revision()
        with self._lock:
            if self._revision != revision:
                self._state = self._load(self._state)
                self._revision = revision
                self._idf.clear()
            return self._state

    def _load(self, previous: SegmentIndex | None) -> SegmentIndex | None:
        if self._private is not None:
            # Another process changed the shared index: build ours from every chunk.
            writer = SegmentWriter(self.folder)
            writer.rebuild(_pages(self.store))
            return SegmentIndex.open(self.folder)
        state = SegmentIndex.open(self.folder, previous)
        if state is None and self.store.count() > 0:
            state = self._build_missing()
        return state

    def _build_missing(self) -> SegmentIndex | None:
        """An index written before keyword segments existed: build them once, as a writer."""
        log.warning("building the keyword index of %s (once)", self.store.location)
        try:
            with self.store.write_lock():
                writer = SegmentWriter(self.folder)
                if not writer.exists():
                    writer.rebuild(_pages(self.store))
        except IndexBusy:
            log.warning("an ingestion is running: keyword search waits for it")
            return None
        return SegmentIndex.open(self.folder)


def _pages(store: Store) -> Any:
    from assistant.index.local import keyword_rows

    for page in store.iter_chunks():
        yield keyword_rows([node_for(c.id, c.text, meta) for c, meta in page])


def node_for(cid: str, text: str, meta: dict[str, Any]) -> TextNode:
    keep = {k: meta.get(k) for k in NODE_KEYS if meta.get(k) is not None}
    excluded = [k for k in keep if k != "title"]
    return TextNode(
        id_=cid,
        text=text,
        metadata=keep,
        excluded_embed_metadata_keys=excluded,
        excluded_llm_metadata_keys=excluded,
    )
