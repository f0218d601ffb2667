"""hits -> an answer whose every sentence cites the exact passage it came from.

The default answerer is extractive and needs no LLM: it quotes the sentences of the retrieved
documents that best cover the question, grouped by source with dates shown. Because every
sentence of the answer *is* a passage of a stored document, each citation's ``quote`` is copied
from the document's stored text with its offsets, and verifies by construction.

It answers only when the evidence covers the question: a name the question asks about that no
retrieved passage mentions, or too small a share of the question's key terms, gives the fixed
refusal instead of weak matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from assistant.index.embedding import SpanVectors
from assistant.settings import Settings
from assistant.text import jaccard, question_entities, sentence_spans, terms, words
from assistant.types import Chunk, Citation, Hit

NO_ANSWER = "The documents do not contain an answer to this question."
MIN_WORDS = 5
PER_DOC = 5
NEAR_DUPLICATE = 0.7  # term overlap above which a sentence repeats one already chosen
NEIGHBOUR_WEIGHT = 0.5
SEMANTIC_WEIGHT = 1.0
CONTEXT_WEIGHT = 0.35  # weight of the earlier conversation's terms in a follow-up


@dataclass
class Passage:
    """One sentence of a stored document, as a candidate for the answer."""

    doc_id: str
    start: int
    end: int
    text: str
    terms: frozenset[str]
    hit: Hit
    score: float = 0.0
    coverage: float = 0.0


@dataclass
class Draft:
    answered: bool
    answer: str
    citations: list[Citation]
    notices: list[str] = field(default_factory=list)
    verification: dict[str, int] | None = None  # set when an LLM wrote the answer


def chunk_span(chunk: Chunk, doc: str) -> tuple[int, int] | None:
    """Where the chunk's text stands in its document's stored text (None if it is not there):
    the stored offsets when they still hold, else the first occurrence."""
    start, end = chunk.start, chunk.end
    if 0 <= start < end <= len(doc) and doc[start:end] == chunk.text:
        return start, end
    start = doc.find(chunk.text)
    return None if start < 0 else (start, start + len(chunk.text))


def located(hits: list[Hit], doc_texts: dict[str, str]) -> Iterator[tuple[Hit, str, int, int]]:
    """Each hit with its document's stored text and the chunk's span there; hits whose
    document or text cannot be found are left out."""
    for hit in hits:
        doc = doc_texts.get(hit.chunk.doc_id)
        span = None if doc is None else chunk_span(hit.chunk, doc)
        if doc is not None and span is not None:
            yield hit, doc, span[0], span[1]


def passages_from_hits(hits: list[Hit], doc_texts: dict[str, str]) -> list[Passage]:
    """The sentences inside each hit's chunk, located in the document's stored text."""
    seen: set[tuple[str, int]] = set()
    out: list[Passage] = []
    for hit, doc, start, end in located(hits, doc_texts):
        c = hit.chunk
        for a, b in sentence_spans(doc, start, end):
            if (c.doc_id, a) in seen:
                continue
            seen.add((c.doc_id, a))
            text = doc[a:b]
            out.append(Passage(c.doc_id, a, b, text, frozenset(terms(text)), hit))
    return out


class ExtractiveAnswerer:
    """Quotes the best-covering sentences; refuses when the evidence does not cover the question."""

    def __init__(
        self,
        settings: Settings,
        idf: Callable[[str], float | None],
        embed: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        self.settings = settings
        self.idf = idf
        self.embed = embed
        self._vectors = SpanVectors(embed) if embed is not None else None

    def weights(self, question: str, context: str = "") -> dict[str, float]:
        w: dict[str, float] = {}
        unseen: list[tuple[str, float]] = []
        for text, scale in ((context, CONTEXT_WEIGHT), (question, 1.0)):
            for t in terms(text):
                idf = self.idf(t)
                if idf is None:
                    unseen.append((t, scale))
                else:
                    w[t] = max(w.get(t, 0.0), idf * scale)
        # A term no document contains may be a synonym of one they do ("pledge" for "support"):
        # weigh it as an average term rather than letting it veto the answer (names still can).
        typical = sum(w.values()) / len(w) if w else 1.0
        for t, scale in unseen:
            w[t] = max(w.get(t, 0.0), typical * scale)
        return w

    def draft(
        self, question: str, hits: list[Hit], doc_texts: dict[str, str], context: str = ""
    ) -> Draft:
        if not hits:
            return Draft(False, NO_ANSWER + " Nothing in the index matches it.", [])
        passages = passages_from_hits(hits, doc_texts)
        if not passages:
            return Draft(False, NO_ANSWER, [])
        weights = self.weights(question, context)
        # A name the question asks about may sit outside the retrieved chunk ("Texas" in the
        # article's first line, the quoted passage further down): the document counts.
        scope = "\n".join(dict.fromkeys(doc_texts.get(h.chunk.doc_id, h.chunk.text) for h in hits))
        scope = (scope + "\n" + "\n".join({h.chunk.title for h in hits})).lower()
        scope = scope.replace("’", "'")
        missing = [e for e in question_entities(question) if not _mentions(scope, e)]
        if missing:
            names = ", ".join(m.title() if not m.isupper() else m for m in missing)
            return Draft(
                False,
                f"{NO_ANSWER} None of the retrieved passages mention {names}.",
                [],
                notices=[f"not found in the documents: {names}"],
            )
        total = sum(weights.values()) or 1.0
        for p in passages:
            covered = sum(w for t, w in weights.items() if t in p.terms)
            p.coverage = covered / total
        titles = {h.chunk.title.strip().lower() for h in hits}
        for p in passages:
            if p.text.strip().lower() in titles:
                p.coverage = 0.0  # a headline is no evidence, nor a neighbour's
        neighbours = _neighbour_coverage(passages)
        # Retrieval ranks documents; inside one document the sentences compete on content.
        doc_rank: dict[str, int] = {}
        for h in sorted(hits, key=lambda h: h.rank):
            doc_rank.setdefault(h.chunk.doc_id, len(doc_rank) + 1)
        for p in passages:
            prior = 1.0 / math.sqrt(doc_rank[p.doc_id])
            dense = max(p.hit.dense or 0.0, 0.0)
            # A sentence amid relevant sentences usually continues their point in other words
            # ("NATO has been delivering fuel, ..." after "step up non-lethal support").
            p.score = (
                p.coverage
                + NEIGHBOUR_WEIGHT * neighbours[id(p)]
                + self.settings.answer.answer_rank_weight * prior
                + 0.1 * dense
            )
        self._semantic_rescore(question, passages)
        chosen = self._select(passages)
        union = set().union(*(p.terms for p in chosen)) if chosen else set()
        union_cov = sum(w for t, w in weights.items() if t in union) / total
        if not chosen or union_cov < self.settings.answer.min_support:
            return Draft(False, f"{NO_ANSWER} The closest passages do not address it.", [])
        return compose(chosen)

    def _semantic_rescore(self, question: str, passages: list[Passage]) -> None:
        """Add the embedding similarity of question and sentence for the best candidates: it
        finds sentences that say the same thing in other words ("stand with Ukraine")."""
        n = self.settings.answer.rerank_sentences
        if self.embed is None or n == 0:
            return
        top = sorted(
            (p for p in passages if len(words(p.text)) >= MIN_WORDS),
            key=lambda p: p.score,
            reverse=True,
        )[:n]
        if not top:
            return
        assert self._vectors is not None
        found = self._vectors.get({(p.doc_id, p.start, p.end): p.text for p in top})
        vectors = [found[(p.doc_id, p.start, p.end)] for p in top]
        q = self.embed([question])[0]
        for p, v in zip(top, vectors, strict=True):
            p.score += SEMANTIC_WEIGHT * max(float(v @ q), 0.0)

    def _select(self, passages: list[Passage]) -> list[Passage]:
        pool = [p for p in passages if len(words(p.text)) >= MIN_WORDS and p.coverage > 0]
        pool.sort(key=lambda p: p.score, reverse=True)
        if not pool:
            return []
        floor = pool[0].score * 0.5
        chosen: list[Passage] = []
        per_doc: dict[str, int] = {}
        for p in pool:
            if len(chosen) >= self.settings.answer.max_answer_sentences or p.score < floor:
                break
            if per_doc.get(p.doc_id, 0) >= PER_DOC:
                continue
            if any(jaccard(p.terms, q.terms) > NEAR_DUPLICATE for q in chosen):
                continue
            chosen.append(p)
            per_doc[p.doc_id] = per_doc.get(p.doc_id, 0) + 1
        return chosen


def _mentions(text: str, entity: str) -> bool:
    """Whether lower-cased ``text`` has the word, or a word starting with its stem
    ("Ukraine" -> "ukrain" finds "Ukrainian")."""
    if re.search(r"\b" + re.escape(entity) + r"\b", text):
        return True
    stems = terms(entity)
    return not stems or re.search(r"\b" + re.escape(stems[0]), text) is not None


def _neighbour_coverage(passages: list[Passage]) -> dict[int, float]:
    """Mean coverage of the sentences just before and after each one in its document."""
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    out: dict[int, float] = {}
    for group in by_doc.values():
        group.sort(key=lambda p: p.start)
        for i, p in enumerate(group):
            near = [group[j].coverage for j in (i - 1, i + 1) if 0 <= j < len(group)]
            out[id(p)] = sum(near) / 2 if near else 0.0
    return out


def compose(chosen: list[Passage]) -> Draft:
    """Group quotes by document, newest document first, in reading order inside each."""
    by_doc: dict[str, list[Passage]] = {}
    for p in chosen:
        by_doc.setdefault(p.doc_id, []).append(p)
    order = sorted(
        by_doc,
        key=lambda d: (by_doc[d][0].hit.chunk.published or "", -min(p.hit.rank for p in by_doc[d])),
        reverse=True,
    )
    citations: list[Citation] = []
    paragraphs: list[str] = []
    notices: list[str] = []
    dates = sorted({d for d in (by_doc[x][0].hit.chunk.published for x in order) if d})
    newest = order[0] if len(dates) > 1 else None
    if newest is not None:
        first = by_doc[newest][0].hit.chunk
        # Sources of different dates may disagree (a count, a status): say which is current.
        notices.append(
            f"the sources date from {dates[0]} to {dates[-1]}; the newest is "
            f"“{first.title}” ({first.published}): where they differ, it is the latest account"
        )
    for doc_id in order:
        group = sorted(by_doc[doc_id], key=lambda p: p.start)
        c = group[0].hit.chunk
        when = f", {c.published}" if c.published else ""
        if doc_id == newest:
            when += " (newest source)"
        parts = []
        for p in group:
            n = len(citations) + 1
            citations.append(
                Citation(
                    n=n,
                    source=c.source,
                    title=c.title,
                    url=c.url,
                    published=c.published,
                    quote=p.text,
                    start=p.start,
                    end=p.end,
                    doc_id=doc_id,
                )
            )
            parts.append(f"{p.text} [{n}]")
        paragraphs.append(f"From “{c.title}”{when}: " + " ".join(parts))
    return Draft(True, "\n\n".join(paragraphs), citations, notices=notices)
