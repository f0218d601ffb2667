"""query -> ranked hits: dense (Chroma) + keyword (BM25), fused by weighted reciprocal rank.

After fusion, llama-index node postprocessors add what news needs (search/postprocess.py):
the publication date votes (the window a question's time words point to, read against
``as_of``), a document's lead votes, each document's best chunk comes before any second chunk,
and near-identical copies are dropped. `assistant eval`'s time split is the judge: a step is
kept only when it helps on weeks it was not tuned on.

Retrieval never calls an LLM. The keyword side is whichever ``KeywordIndex`` the settings
choose (assistant/backends.py): segments on disk, or PostgreSQL; both are kept current by
ingestion, so a change costs a reader nothing but reading the new state.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from assistant.backends import backend
from assistant.index.store import Store, chunk_from, date_int
from assistant.search.keyword import KeywordIndex
from assistant.search.postprocess import DatePrior, DocumentsFirst, LeadPrior, NearDuplicates
from assistant.search.recency import parse_iso
from assistant.settings import Settings
from assistant.text import words
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
        self.keyword: KeywordIndex = backend(settings).keyword(store, settings)
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
        for step in self._postprocessors(top_k, as_of):
            fused = step.postprocess_nodes(fused, query_str=query)
        return [
            Hit(
                chunk=chunk_from(n.node.node_id, n.node.get_content(), dict(n.node.metadata)),
                score=float(n.score or 0.0),
                rank=i,
                dense=fusion.raw_scores.get(n.node.node_id, {}).get(DENSE),
                lexical=fusion.raw_scores.get(n.node.node_id, {}).get(LEXICAL),
            )
            for i, n in enumerate(fused, start=1)
        ]

    def _postprocessors(self, top_k: int, as_of: str | None) -> list[BaseNodePostprocessor]:
        """The news steps after fusion (see search/postprocess.py), in order."""
        r = self.settings.retrieval
        unit = 1.0 / (r.rrf_k + 1)  # a first place in a list of weight 1
        steps: list[BaseNodePostprocessor] = []
        day = parse_iso(as_of) if as_of else self.newest_date()
        if day is not None:
            steps.append(
                DatePrior(
                    as_of=day,
                    window_vote=r.date_window_boost * unit,
                    recency_vote=r.recency_boost * unit,
                    recency_days=r.recency_days,
                    future_penalty=r.future_penalty,
                )
            )
        steps.append(LeadPrior(vote=r.lead_boost * unit))
        if r.doc_diversity:
            steps.append(DocumentsFirst())
        steps.append(
            NearDuplicates(threshold=r.dedupe_threshold, limit=top_k, word_set=self._words)
        )
        return steps

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
