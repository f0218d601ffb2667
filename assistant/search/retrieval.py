"""query -> ranked hits: dense (Chroma) + BM25 (bm25s), fused by weighted reciprocal rank.

After fusion the publication date votes too (the window a question's time words point to,
read against ``as_of``; documents newer than ``as_of`` are demoted), then each document's best
chunk comes before any second chunk, and near-identical copies are dropped. `assistant eval`
on the realtimeqa dev questions is the judge: each step raised its scores (de-duplication
left them unchanged and removes repeated passages).

Retrieval never calls an LLM. The BM25 index is built from the chunks stored in Chroma and
cached on disk per index revision, so a new process loads it instead of re-tokenising, and a
process sharing a Chroma server rebuilds it when another process changed the collection.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from assistant.index.store import Store, chunk_from, date_int
from assistant.search.keyword import Bm25Index, KeywordIndex
from assistant.search.recency import date_prior, default_window, parse_iso, relative_window
from assistant.settings import Settings
from assistant.text import jaccard, words
from assistant.types import Filters, Hit

log = logging.getLogger(__name__)

DENSE, LEXICAL = 0, 1
WORD_SET_CACHE = 20000  # chunks' word sets kept for de-duplication (chunk ids are stable)


def metadata_filters(f: Filters) -> MetadataFilters | None:
    """The filters as Chroma metadata filters (dates compare as YYYYMMDD integers)."""
    items: list[MetadataFilter] = []
    if f.since:
        items.append(
            MetadataFilter(key="pub_int", value=date_int(f.since), operator=FilterOperator.GTE)
        )
    if f.until:
        items.append(
            MetadataFilter(key="pub_int", value=date_int(f.until), operator=FilterOperator.LTE)
        )
    if f.sources:
        items.append(MetadataFilter(key="source", value=f.sources, operator=FilterOperator.IN))
    if f.exclude_docs:
        items.append(
            MetadataFilter(key="doc_id", value=f.exclude_docs, operator=FilterOperator.NIN)
        )
    if not items:
        return None
    return MetadataFilters(filters=items, condition=FilterCondition.AND)


def accepts(f: Filters, meta: dict[str, Any]) -> bool:
    pub = int(meta.get("pub_int") or 0)
    if f.since and pub < date_int(f.since):
        return False
    if f.until and (pub == 0 or pub > date_int(f.until)):
        return False
    if f.exclude_docs and meta.get("doc_id") in f.exclude_docs:
        return False
    return not (f.sources and meta.get("source") not in f.sources)


class WeightedRRFRetriever(QueryFusionRetriever):
    """QueryFusionRetriever whose reciprocal-rank fusion honours retriever weights and k.

    The stock fusion ignores weights, fixes k=60 and keys nodes by content hash, which splits
    one chunk in two when the BM25 copy and the Chroma copy carry different metadata.
    """

    def __init__(self, retrievers: list[BaseRetriever], weights: list[float], k: float, top_k: int):
        super().__init__(
            retrievers,
            llm=MockLLM(),  # never used with num_queries=1; avoids resolving a default LLM
            mode=FUSION_MODES.RECIPROCAL_RANK,
            similarity_top_k=top_k,
            num_queries=1,
            use_async=False,
            retriever_weights=weights,
        )
        self._rrf_k = k
        self.raw_scores: dict[str, dict[int, float]] = {}

    def _reciprocal_rerank_fusion(
        self, results: dict[tuple[str, int], list[NodeWithScore]]
    ) -> list[NodeWithScore]:
        fused: dict[str, float] = {}
        by_id: dict[str, NodeWithScore] = {}
        raw: dict[str, dict[int, float]] = {}
        for (_query, idx), hits in results.items():
            weight = self._retriever_weights[idx]
            ranked = sorted(hits, key=lambda h: h.score or 0.0, reverse=True)
            for rank, hit in enumerate(ranked):
                nid = hit.node.node_id
                by_id.setdefault(nid, hit)
                raw.setdefault(nid, {})[idx] = float(hit.score or 0.0)
                fused[nid] = fused.get(nid, 0.0) + weight / (self._rrf_k + rank + 1)
        self.raw_scores = raw
        order = sorted(fused, key=lambda n: fused[n], reverse=True)
        out = []
        for nid in order:
            hit = by_id[nid]
            out.append(NodeWithScore(node=hit.node, score=fused[nid]))
        return out


class _KeywordRetriever(BaseRetriever):
    """The keyword index as a llama-index retriever, so the fusion retriever can take it."""

    def __init__(self, index: KeywordIndex, filters: Filters, k: int) -> None:
        super().__init__()
        self._index = index
        self._filters = filters
        self._k = k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._index.search(query_bundle.query_str, self._k, self._filters)


class Retriever:
    """Hybrid retrieval over one Store; safe to share between threads."""

    def __init__(self, store: Store, embedder: BaseEmbedding, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self._vector_index: VectorStoreIndex | None = None
        self._generation = -1
        self._lock = threading.Lock()
        self.keyword: KeywordIndex = Bm25Index(store, settings)
        self._word_sets: dict[str, frozenset[str]] = {}
        self._word_sets_revision: str | None = None

    def _vector(self) -> VectorStoreIndex:
        """The dense index over the store's current chunk collection (a rebuild, here or in
        another process, replaces the collection: the old handle would point at nothing)."""
        with self._lock:
            if self._vector_index is None or self._generation != self.store.generation:
                self._generation = self.store.generation
                self._vector_index = VectorStoreIndex.from_vector_store(
                    self.store.vector_store,
                    embed_model=self.embedder,
                )
            return self._vector_index

    # --- keyword side ---------------------------------------------------------------------
    def idf(self, term: str) -> float | None:
        """Inverse document frequency of a stemmed term over the chunks; None if unseen."""
        return self.keyword.idf(term)

    def newest_date(self) -> date | None:
        """Publication date of the newest chunk in the index: the default ``as_of``."""
        return self.keyword.newest_date()

    def warm_up(self) -> None:
        """Load the keyword index and open the vector index before the first question."""
        self.keyword.warm_up()
        self._vector()

    # --- retrieval ------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        as_of: str | None = None,
    ) -> list[Hit]:
        """The ``top_k`` best chunks for ``query``, read as if asked on ``as_of``."""
        s = self.settings
        top_k = top_k or s.retrieval.top_k
        filters = filters or Filters()
        k = s.retrieval.candidate_k
        revision = self.store.revision()
        with self._lock:
            if self._word_sets_revision != revision:
                self._word_sets.clear()  # an updated document keeps its chunk ids
                self._word_sets_revision = revision
        dense = self._vector().as_retriever(similarity_top_k=k, filters=metadata_filters(filters))
        lexical = _KeywordRetriever(self.keyword, filters, k)
        fusion = WeightedRRFRetriever(
            [dense, lexical],
            weights=[s.retrieval.dense_weight, s.retrieval.bm25_weight],
            k=s.retrieval.rrf_k,
            top_k=2 * k,  # every candidate: dates and diversity reorder them before the cut
        )
        fused = fusion.retrieve(query)
        cands = [
            _Candidate(
                node=nws.node,
                score=float(nws.score or 0.0),
                raw=fusion.raw_scores.get(nws.node.node_id, {}),
            )
            for nws in fused
        ]
        self._date_prior(query, cands, as_of)
        cands.sort(key=lambda c: c.score, reverse=True)
        if s.retrieval.doc_diversity:
            cands = _diversify(cands)
        hits: list[Hit] = []
        kept: list[frozenset[str]] = []
        for c in cands:
            if len(hits) == top_k:
                break
            node = c.node
            text = node.get_content()
            if s.retrieval.dedupe_threshold < 1:
                # Syndicated copies and re-publications say the same thing twice.
                vocab = self._words(node.node_id, text)
                if any(jaccard(vocab, other) >= s.retrieval.dedupe_threshold for other in kept):
                    continue
                kept.append(vocab)
            hits.append(
                Hit(
                    chunk=chunk_from(node.node_id, text, dict(node.metadata)),
                    score=c.score,
                    rank=len(hits) + 1,
                    dense=c.raw.get(DENSE),
                    lexical=c.raw.get(LEXICAL),
                )
            )
        return hits

    def _words(self, node_id: str, text: str) -> frozenset[str]:
        with self._lock:
            got = self._word_sets.get(node_id)
        if got is None:
            got = frozenset(words(text))
            with self._lock:
                self._word_sets[node_id] = got
                if len(self._word_sets) > WORD_SET_CACHE:
                    self._word_sets.pop(next(iter(self._word_sets)))
        return got

    def _date_prior(self, query: str, cands: list[_Candidate], as_of: str | None) -> None:
        """Prefer the window the question's relative time points to; demote the future."""
        s = self.settings
        day = parse_iso(as_of) if as_of else self.newest_date()
        if day is None:
            return
        window = relative_window(query, day)
        boost = s.retrieval.date_window_boost
        if window is None and s.retrieval.recency_boost > 0:
            window, boost = default_window(day, s.retrieval.recency_days), s.retrieval.recency_boost
        if boost == 0 and s.retrieval.future_penalty == 0:
            return
        vote = boost / (s.retrieval.rrf_k + 1)  # a first place in a list of weight `boost`
        for c in cands:
            published = parse_iso(str(c.node.metadata.get("pub_int") or ""))
            c.score = date_prior(c.score, published, day, window, vote, s.retrieval.future_penalty)


@dataclass
class _Candidate:
    node: BaseNode
    score: float
    raw: dict[int, float]


def _diversify(cands: list[_Candidate]) -> list[_Candidate]:
    """Each document's best chunk first (in score order), then the second-best chunks, ..."""
    seen: dict[str, int] = {}
    keyed = []
    for i, c in enumerate(cands):
        doc = str(c.node.metadata.get("doc_id", c.node.node_id))
        nth = seen.get(doc, 0)
        seen[doc] = nth + 1
        keyed.append((nth, i, c))
    keyed.sort(key=lambda t: (t[0], t[1]))
    return [c for _, _, c in keyed]
