"""Keyword retrieval: BM25 over the chunks, behind one small interface.

``KeywordIndex`` is what retrieval needs of a keyword backend: candidates for a query under
filters, the IDF of a term (answering weighs question terms by it), and the newest publication
date (the default ``as_of``). The local backend is bm25s through llama-index's
``BM25Retriever`` (its tokenizer, stemmer and persistence), cached on disk per index revision.

Filters are applied inside the BM25 scoring as a weight mask (bm25s ``weight_mask``), so a
filtered question gets its k best matching chunks directly, without over-fetching.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import threading
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from llama_index.core.schema import BaseNode, NodeWithScore, TextNode

from assistant.index.store import Store, date_int
from assistant.search.recency import parse_iso
from assistant.settings import Settings
from assistant.types import Filters

log = logging.getLogger(__name__)

# Chunk metadata kept in the keyword index (what a hit needs to become a Chunk).
NODE_KEYS = ("title", "published", "doc_id", "source", "url", "start", "end", "pub_int")


class KeywordIndex(Protocol):
    def search(self, query: str, k: int, filters: Filters | None) -> list[NodeWithScore]: ...

    def idf(self, term: str) -> float | None: ...

    def newest_date(self) -> date | None: ...

    def warm_up(self) -> None: ...


class Bm25Index:
    """bm25s over every chunk of a Store, rebuilt (or loaded from its disk cache) whenever
    the index revision changes; safe to share between threads."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self._state: _Loaded | None = None
        self._revision: str | None = None

    # --- the interface ----------------------------------------------------------------------
    def search(self, query: str, k: int, filters: Filters | None) -> list[NodeWithScore]:
        import bm25s

        state = self._current()
        if state is None:
            return []
        r = state.retriever
        tokens = bm25s.tokenize(
            query,
            stemmer=r.stemmer if not r.skip_stemming else None,
            token_pattern=r.token_pattern,
            show_progress=False,
        )
        mask = state.mask(filters) if filters else None
        if mask is not None and not mask.any():
            return []
        k = min(k, state.size if mask is None else int(mask.sum()))
        if k <= 0:
            return []
        indexes, scores = r.bm25.retrieve(tokens, k=k, show_progress=False, weight_mask=mask)
        out = []
        for idx, score in zip(indexes[0], scores[0], strict=True):
            if float(score) <= 0:
                continue  # no query term: not a keyword match (a masked-in filler)
            out.append(NodeWithScore(node=state.node(idx), score=float(score)))
        return out

    def idf(self, term: str) -> float | None:
        """Inverse document frequency of a stemmed term over the chunks; None if unseen."""
        state = self._current()
        if state is None:
            return None
        model = state.retriever.bm25
        tid = model.vocab_dict.get(term)
        if tid is None:
            return None
        indptr = model.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + (state.size - df + 0.5) / (df + 0.5))

    def newest_date(self) -> date | None:
        state = self._current()
        return None if state is None else state.newest

    def warm_up(self) -> None:
        self._current()

    # --- loading ----------------------------------------------------------------------------
    def _current(self) -> _Loaded | None:
        revision = self.store.revision()
        with self._lock:
            if self._revision != revision:
                retriever = self._load_or_build(revision)
                self._state = None if retriever is None else _Loaded(retriever)
                self._revision = revision
            return self._state

    def _cache_dir(self, revision: str) -> Path | None:
        s = self.settings.index
        if s.chroma_url:
            return None  # shared index: the cache would be per machine; rebuild in memory
        return s.index_dir / "bm25" / f"{s.collection}-{revision}"

    def _load_or_build(self, revision: str) -> Any:
        from llama_index.retrievers.bm25 import BM25Retriever

        cache = self._cache_dir(revision)
        if cache is not None and (cache / "retriever.json").is_file():
            try:
                return BM25Retriever.from_persist_dir(str(cache), show_progress=False)
            except Exception as exc:  # a damaged cache is rebuilt, not fatal
                log.warning("BM25 cache at %s unusable (%s); rebuilding", cache, exc)
        nodes: list[BaseNode] = [
            node_for(c.id, c.text, meta) for c, meta in self.store.all_chunks()
        ]
        if not nodes:
            return None
        r = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=1)
        if cache is not None:
            try:
                if cache.parent.is_dir():
                    shutil.rmtree(cache.parent)  # older revisions are never read again
                cache.mkdir(parents=True, exist_ok=True)
                r.persist(str(cache), show_progress=False)
            except OSError as exc:
                log.warning("could not cache BM25 index at %s: %s", cache, exc)
        return r


class _Loaded:
    """One revision's retriever with the per-chunk arrays that filters are checked against."""

    def __init__(self, retriever: Any) -> None:
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        self.retriever = retriever
        self._to_node = metadata_dict_to_node
        corpus = retriever.corpus
        self.size = len(corpus)
        self.pub = np.array([int(m.get("pub_int") or 0) for m in corpus], dtype=np.int64)
        self.sources = np.array([str(m.get("source") or "") for m in corpus], dtype=object)
        newest = int(self.pub.max()) if self.size else 0
        self.newest = parse_iso(str(newest)) if newest else None

    def mask(self, f: Filters) -> np.ndarray:
        keep = np.ones(self.size, dtype=bool)
        if f.since:
            keep &= self.pub >= date_int(f.since)
        if f.until:
            keep &= (self.pub > 0) & (self.pub <= date_int(f.until))
        if f.sources:
            keep &= np.isin(self.sources, list(f.sources))
        if f.exclude_docs:
            keep &= ~np.isin(self.doc_ids, list(f.exclude_docs))
        return keep

    @cached_property
    def doc_ids(self) -> np.ndarray:
        """Each chunk's document id, read when a filter first needs it: llama-index's flat
        record says 'None' for it, the node's own metadata has it."""
        ids = []
        for m in self.retriever.corpus:
            content = m.get("_node_content")
            meta = json.loads(content).get("metadata", {}) if isinstance(content, str) else m
            ids.append(str(meta.get("doc_id") or ""))
        return np.array(ids, dtype=object)

    def node(self, idx: Any) -> BaseNode:
        record = idx if isinstance(idx, dict) else self.retriever.corpus[int(idx)]
        return self._to_node(record)


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
