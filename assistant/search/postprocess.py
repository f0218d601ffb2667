"""What happens to the fused candidates before the cut: llama-index node postprocessors.

The fusion retriever ranks chunks by how well their words and meaning match the question.
News adds what matching text cannot see, each step one postprocessor over the candidates:

- ``DatePrior``: the window the question's time words point to ("this week", "in 2015") votes
  like one more ranked list; questions naming no time prefer the last ``recency_days``; a story
  published after ``as_of`` did not exist when the question was asked and is demoted.
- ``LeadPrior``: a document's lead (its first chunk: the headline's story and the opening
  paragraphs, where news states what happened) votes like one more list.
- ``DocumentsFirst``: each document's best chunk before any document's second chunk.
- ``NearDuplicates``: a chunk whose words mostly repeat a higher-ranked one's is dropped.

Votes are in units of "a first place in a list of weight 1" (``1 / (rrf_k + 1)``), so a vote
can lift a relevant story above a slightly better-matching one, never an unrelated one to
the top. Each setting is kept only while `assistant eval`'s time split shows it helping on the
weeks it was not chosen on (see benchmarks/time_split.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from assistant.index.store import chunk_number
from assistant.search.recency import date_prior, default_window, parse_iso, relative_window
from assistant.text import jaccard

__all__ = ["DatePrior", "DocumentsFirst", "LeadPrior", "NearDuplicates", "doc_of"]


def doc_of(nws: NodeWithScore) -> str:
    return str(nws.node.metadata.get("doc_id", nws.node.node_id))


def _by_score(nodes: list[NodeWithScore]) -> list[NodeWithScore]:
    return sorted(nodes, key=lambda n: n.score or 0.0, reverse=True)


class DatePrior(BaseNodePostprocessor):
    """Publication date as one more vote, read against the day the question is asked."""

    as_of: date
    window_vote: float  # the weight of an explicit window, already in score units
    recency_vote: float  # the same for the default window of a question naming no time
    recency_days: int
    future_penalty: float

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        question = query_bundle.query_str if query_bundle else ""
        window = relative_window(question, self.as_of)
        vote = self.window_vote
        if window is None and self.recency_vote > 0:
            window, vote = default_window(self.as_of, self.recency_days), self.recency_vote
        if vote == 0 and self.future_penalty == 0:
            return nodes
        for n in nodes:
            published = parse_iso(str(n.node.metadata.get("pub_int") or ""))
            n.score = date_prior(
                n.score or 0.0, published, self.as_of, window, vote, self.future_penalty
            )
        return _by_score(nodes)


class LeadPrior(BaseNodePostprocessor):
    """A document's first chunk gains ``vote``: news puts the answer in its opening lines, and
    a story whose headline and lead match the question is about it, not merely mentioning it."""

    vote: float

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if self.vote == 0:
            return nodes
        for n in nodes:
            if chunk_number(n.node.node_id) == 0:
                n.score = (n.score or 0.0) + self.vote
        return _by_score(nodes)


class DocumentsFirst(BaseNodePostprocessor):
    """Each document's best chunk first (in score order), then the second-best chunks, ..."""

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        seen: dict[str, int] = {}
        keyed = []
        for i, n in enumerate(nodes):
            doc = doc_of(n)
            nth = seen.get(doc, 0)
            seen[doc] = nth + 1
            keyed.append((nth, i, n))
        keyed.sort(key=lambda t: (t[0], t[1]))
        return [n for _, _, n in keyed]


class NearDuplicates(BaseNodePostprocessor):
    """Drops a chunk whose word set overlaps a higher-ranked kept one's by ``threshold``
    (Jaccard): syndicated copies and re-publications say the same thing twice. Stops once
    ``limit`` chunks are kept (the rest would be cut anyway)."""

    threshold: float
    limit: int
    word_set: Callable[[str, str], frozenset[str]]  # (chunk id, text) -> its words, cached

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if self.threshold >= 1:
            return nodes[: self.limit]
        out: list[NodeWithScore] = []
        kept: list[frozenset[str]] = []
        for n in nodes:
            if len(out) == self.limit:
                break
            vocab = self.word_set(n.node.node_id, n.node.get_content())
            if any(jaccard(vocab, other) >= self.threshold for other in kept):
                continue
            kept.append(vocab)
            out.append(n)
        return out
