"""hits -> an answer whose every sentence cites the exact passage it came from.

The default answerer is extractive and needs no LLM. It reads the retrieved documents as
citable units (sentences, and quotations kept whole: ``segments``), scores each for whether it
answers *this* question (``answerability``), and either

- answers: the best unit first, then only units that add a fact the question asks for, within
  a budget of words for fact questions; each quoted verbatim with its offsets in the stored
  text, so every citation verifies by construction; or
- refuses, saying what the documents mention and what they do not (``refusal``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.answer.answerability import (
    JUDGE_FEATURES,
    UNIT_FEATURES,
    Context,
    Model,
    judge_features,
    lacks_asked_type,
    load_model,
    mentions,
    novel_caps,
    novel_numbers,
    relative,
    type_match,
    unit_features,
)
from assistant.answer.question import Frame, analyse
from assistant.answer.refusal import NO_ANSWER, explain, surface
from assistant.answer.segments import Unit, document_units
from assistant.index.embedding import SpanVectors
from assistant.search.recency import Window, parse_iso, relative_window, window_fit
from assistant.settings import Settings
from assistant.text import jaccard, neutralise_markers, question_entities, stem, terms, words
from assistant.types import Chunk, Citation, Hit

POOL_DOCS = 3  # documents whose units compete (retrieval's best first)
MIN_WORDS = 4
NEAR_DUPLICATE = 0.6  # term overlap above which a unit repeats one already chosen
FACT_WORDS = 60  # budget of a fact question's answer, source lines included
FACT_UNITS = 2
MARGIN = 1.5  # a further unit's score may trail the best one's by this much
TYPE_MARGIN = 3.0  # how far behind the best a unit that holds the asked type may be, to lead
LIST_MARGIN = 2.6  # the same for a question that asks for several things
CONTEXT_WEIGHT = 0.35  # weight of the earlier conversation's terms in a follow-up

__all__ = ["NO_ANSWER", "Draft", "ExtractiveAnswerer", "chunk_span", "located"]


@dataclass
class Candidate:
    """One citable unit of a retrieved document."""

    doc_id: str
    start: int
    end: int
    text: str
    hit: Hit  # its document's best hit
    ctx: Context
    score: float = 0.0


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


def candidates(
    hits: list[Hit], doc_texts: dict[str, str], window: Window | None = None
) -> list[Candidate]:
    """The citable units of the best ``POOL_DOCS`` retrieved documents, with their context.
    Whole documents, not only the retrieved chunks: news often names the answer in the lead
    while the chunk that matched the question is further down."""
    spans: dict[str, list[tuple[int, int]]] = {}
    best: dict[str, Hit] = {}
    for hit, _doc, start, end in located(sorted(hits, key=lambda h: h.rank), doc_texts):
        spans.setdefault(hit.chunk.doc_id, []).append((start, end))
        best.setdefault(hit.chunk.doc_id, hit)
    top = max((h.score for h in best.values()), default=0.0)
    out: list[Candidate] = []
    for rank, (doc_id, hit) in enumerate(list(best.items())[:POOL_DOCS], start=1):
        doc = doc_texts[doc_id]
        units = [u for u in document_units(doc) if u.citable] or headline_only(doc)
        fit = 1.0 if window is None else window_fit(parse_iso(hit.chunk.published), window)
        for i, u in enumerate(units):
            text = doc[u.start : u.end]
            ctx = Context(
                unit=text,
                before=doc[units[i - 1].start : units[i - 1].end] if i > 0 else "",
                after=doc[units[i + 1].start : units[i + 1].end] if i + 1 < len(units) else "",
                doc=doc,
                title=hit.chunk.title,
                doc_rank=rank,
                hit_rel=hit.score / top if top > 0 else 0.0,
                index=i,
                kind=u.kind,
                in_hit=any(a <= u.start < b for a, b in spans[doc_id]),
                date_fit=fit,
            )
            out.append(Candidate(doc_id, u.start, u.end, text, hit, ctx))
    return out


def headline_only(doc: str) -> list[Unit]:
    """The headings of a story stored as its headline alone (a page whose text could not be
    read keeps its title): there the headline is all it says. Above a story's sentences a
    headline is not quoted; it repeats the question's words without the sentence's facts."""
    return [u for u in document_units(doc) if u.kind == "heading"]


def asks(text: str) -> bool:
    """A unit that is itself a question (a newsletter's quiz line, a quoted question): it may
    repeat the reader's question word for word, but it never answers one."""
    return text.rstrip("”\"’')]").endswith("?")


class ExtractiveAnswerer:
    """Quotes the units that answer; refuses, saying what is missing, when none does."""

    def __init__(
        self,
        settings: Settings,
        idf: Callable[[str], float | None],
        embed: Callable[[list[str]], np.ndarray] | None = None,
        model_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.idf = idf
        self.embed = embed
        self._vectors = SpanVectors(embed) if embed is not None else None
        self._model_path = model_path or settings.answer.answer_model

    @cached_property
    def model(self) -> Model:
        return load_model(self._model_path)

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

    def featurise(
        self,
        question: str,
        hits: list[Hit],
        doc_texts: dict[str, str],
        context: str = "",
        as_of: date | None = None,
    ) -> tuple[list[Candidate], np.ndarray]:
        """The candidate units and their UNIT_FEATURES rows (what the training script
        labels, and what ``judge`` scores); ``as_of`` reads the question's time words."""
        frame = analyse(question)
        window = relative_window(question, as_of) if as_of else None
        pool = [c for c in candidates(hits, doc_texts, window) if len(words(c.text)) >= MIN_WORDS]
        weights = self.weights(question, context)
        rows = np.array([unit_features(frame, weights, c.ctx) for c in pool], dtype=np.float64)
        # No candidate (every unit too short): an empty table, which the judge refuses.
        return pool, relative(rows.reshape(len(pool), len(UNIT_FEATURES)))

    def judge(
        self,
        question: str,
        hits: list[Hit],
        doc_texts: dict[str, str],
        context: str = "",
        as_of: date | None = None,
    ) -> tuple[list[Candidate], float]:
        """The candidates, best first, and the judge's score (answered when it reaches the
        model's threshold); no candidates when a name the question asks about is absent."""
        if missing_names(analyse(question), hits, doc_texts):
            return [], float("-inf")
        pool, rows = self.featurise(question, hits, doc_texts, context, as_of)
        if not pool:
            return [], float("-inf")
        scores = self.model.unit(rows)
        # A question in the documents never answers one. It stays among the units the
        # features compare each unit with, as it was when the model was trained.
        keep = [i for i, c in enumerate(pool) if not asks(c.text)]
        if not keep:
            return [], float("-inf")
        pool, rows, scores = [pool[i] for i in keep], rows[keep], scores[keep]
        for c, s in zip(pool, scores, strict=True):
            c.score = float(s)
        order = sorted(range(len(pool)), key=lambda i: (-pool[i].score, i))
        best = pool[order[0]]
        if lacks_asked_type(analyse(question), [best.ctx.before, best.text, best.ctx.after]):
            return [pool[i] for i in order], float("-inf")
        dense = self.dense(question, best)
        verdict = float(self.model.judge(np.array(judge_features(rows, scores, dense)))[()])
        return [pool[i] for i in order], verdict

    def draft(
        self,
        question: str,
        hits: list[Hit],
        doc_texts: dict[str, str],
        context: str = "",
        as_of: date | None = None,
    ) -> Draft:
        if not hits:
            return Draft(False, NO_ANSWER + " Nothing in the index matches it.", [])
        frame = analyse(question)
        scope = _scope(hits, doc_texts)
        missing = missing_names(frame, hits, doc_texts)
        if missing:
            shown = [surface(frame.text, m) for m in missing]
            return Draft(
                False,
                explain(frame, scope, missing),
                [],
                notices=[f"not found in the documents: {', '.join(shown)}"],
            )
        ranked, verdict = self.judge(question, hits, doc_texts, context, as_of)
        if not ranked or verdict < self.model.threshold:
            return Draft(False, explain(frame, scope), [])
        return compose(self._select(frame, ranked))

    def dense(self, question: str, c: Candidate) -> float:
        """Embedding similarity of the question and one unit; the trained mean without an
        embedder (the judge then leans on its other features)."""
        if self.embed is None or self._vectors is None:
            return float(self.model.judge.mean[JUDGE_FEATURES.index("dense")])
        key = (c.doc_id, c.start, c.end)
        v = self._vectors.get({key: c.text})[key]
        q = self.embed([question])[0]
        return float(v @ q)

    def _select(self, frame: Frame, ranked: list[Candidate]) -> list[Candidate]:
        """The best unit, then units that add a fact the question asks for: for a list
        question ("what support ...") units about what it asks (the kinds of support, and an
        enumeration beside them) up to ``max_answer_sentences``; else one more at most,
        within ``FACT_WORDS`` (source lines included)."""
        first = ranked[0]
        if frame.qtype in ("quantity", "date", "person", "place") and not _carries(frame, first):
            # "How much does the plan pay?": the first sentence states the amount, when one
            # close behind the best does.
            typed = [
                c for c in ranked[1:] if c.score >= first.score - TYPE_MARGIN and _carries(frame, c)
            ]
            if typed:
                first = typed[0]
                ranked = [first, *(c for c in ranked if c is not first)]
        chosen = [first]
        limit = self.settings.answer.max_answer_sentences
        if not frame.list_like:
            limit = min(limit, FACT_UNITS)
        margin = LIST_MARGIN if frame.list_like else MARGIN
        focus = stem(frame.focus) if frame.focus else None
        facts = _facts(frame, first.text)
        for c in ranked[1:]:
            if len(chosen) >= limit or c.score < first.score - margin:
                break
            if _repeats(c, chosen):
                continue
            if frame.list_like and focus and focus not in terms(c.text):
                continue
            new = _facts(frame, c.text) - facts
            if not new:
                continue
            if not frame.list_like and _words([*chosen, c]) > FACT_WORDS:
                continue
            chosen.append(c)
            facts |= new
        if frame.list_like:
            # "NATO has been delivering fuel, medical supplies, winter equipment and drone
            # jammers": the kinds asked for, listed beside a sentence that names them.
            for c in ranked:
                if len(chosen) >= limit:
                    break
                near = any(
                    p.doc_id == c.doc_id and abs(c.ctx.index - p.ctx.index) <= 2 for p in chosen
                )
                # reported, not a speaker's rhetoric ("weaker politically, economically and
                # militarily")
                near = near and c.text.lstrip()[:1] not in '“"‘'
                if (
                    near
                    and c not in chosen
                    and _ENUMERATION.search(c.text)
                    and not _repeats(c, chosen)
                ):
                    chosen.append(c)
        return chosen


def _carries(frame: Frame, c: Candidate) -> bool:
    """Whether the unit holds the kind of thing asked for (a number, a date, a name)."""
    caps, nums = novel_caps(frame, c.text), novel_numbers(frame, c.text)
    return type_match(frame, c.text, caps, nums) >= 1.0


def _repeats(c: Candidate, chosen: list[Candidate]) -> bool:
    vocab = frozenset(terms(c.text))
    return any(jaccard(vocab, frozenset(terms(p.text))) > NEAR_DUPLICATE for p in chosen)


_ENUMERATION = re.compile(
    r"\w[^,.;:]{0,40}, \w[^,.;:]{0,40}, (?:\w[^,.;:]{0,40}, )*\w[^,.;:]{0,40} and "
)


def _facts(frame: Frame, text: str) -> set[str]:
    """The names, numbers and (for list questions) content words a unit contributes."""
    out = {w.lower() for w in novel_caps(frame, text)} | set(novel_numbers(frame, text))
    if frame.list_like:
        out |= set(terms(text)) - frame.term_set
    return out


def _words(chosen: list[Candidate]) -> int:
    titles = {c.doc_id: c.hit.chunk.title for c in chosen}
    return sum(len(words(c.text)) for c in chosen) + sum(len(words(t)) + 3 for t in titles.values())


def _scope(hits: list[Hit], doc_texts: dict[str, str]) -> str:
    """Everything the answerer looked at, lower-cased: whole documents and their titles.
    A name the question asks about may sit outside the retrieved chunk."""
    texts = dict.fromkeys(doc_texts.get(h.chunk.doc_id, h.chunk.text) for h in hits)
    titles = dict.fromkeys(h.chunk.title for h in hits)
    return "\n".join([*texts, *titles]).lower().replace("’", "'")


# "The Legend of Zelda: Breath of the Wild": a subtitle that names the work on its own.
_TITLED = re.compile(
    r"([A-Z][\w'’]*(?:\s+(?:[A-Z][\w'’]*|of|the|and|a|an|in|on|for|to))*)"
    r"\s*:\s+([A-Z][\w'’]*(?:\s+(?:[A-Z][\w'’]*|of|the|and|a|an|in|on|for|to))+)"
)


def missing_names(frame: Frame, hits: list[Hit], doc_texts: dict[str, str]) -> list[str]:
    """Names in the question that no retrieved document mentions, when they weigh: in a
    question of one or two names any of them, else a third of them or more (one unmatched
    spelling among many names is no sign that the documents are about something else).
    A work named by its full title counts as mentioned when the documents use its subtitle."""
    scope = _scope(hits, doc_texts)
    optional: set[str] = set()
    for m in _TITLED.finditer(frame.text):
        subtitle = m.group(2).lower().replace("’", "'")
        if subtitle in scope:
            optional |= set(question_entities("x " + m.group(1)))
    names = [e for e in frame.entities if e not in optional]
    missing = [e for e in names if not mentions(scope, e)]
    if len(names) > 2 and len(missing) * 3 < len(names):
        return []
    return missing


def compose(chosen: list[Candidate]) -> Draft:
    """The best unit first, under its source's title and date; the rest of that source's
    units in reading order, then the other sources in the order their best unit ranked."""
    by_doc: dict[str, list[Candidate]] = {}
    for c in chosen:
        by_doc.setdefault(c.doc_id, []).append(c)
    order = list(by_doc)
    citations: list[Citation] = []
    paragraphs: list[str] = []
    notices: list[str] = []
    dates = sorted({d for d in (by_doc[x][0].hit.chunk.published for x in order) if d})
    newest = None
    if len(dates) > 1:
        newest = max(order, key=lambda d: by_doc[d][0].hit.chunk.published or "")
        first = by_doc[newest][0].hit.chunk
        # Sources of different dates may disagree (a count, a status): say which is current.
        notices.append(
            f"the sources date from {dates[0]} to {dates[-1]}; the newest is "
            f"“{first.title}” ({first.published}): where they differ, it is the latest account"
        )
    for i, doc_id in enumerate(order):
        group = by_doc[doc_id]
        group = group[:1] + sorted(group[1:], key=lambda c: c.start) if i == 0 else group
        if i > 0:
            group = sorted(group, key=lambda c: c.start)
        c0 = group[0].hit.chunk
        when = f", {c0.published}" if c0.published else ""
        if doc_id == newest:
            when += " (newest source)"
        parts = []
        for c in group:
            n = len(citations) + 1
            citations.append(
                Citation(
                    n=n,
                    source=c0.source,
                    title=c0.title,
                    url=c0.url,
                    published=c0.published,
                    quote=c.text,
                    start=c.start,
                    end=c.end,
                    doc_id=doc_id,
                )
            )
            # The citation keeps the exact quote; the answer's copy cannot carry a "[7]" of
            # the document's own, which would read as a marker without a citation.
            parts.append(f"{neutralise_markers(c.text)} [{n}]")
        paragraphs.append(f"From “{neutralise_markers(c0.title)}”{when}: " + " ".join(parts))
    return Draft(True, "\n\n".join(paragraphs), citations, notices=notices)
