"""hits -> an answer whose every sentence cites the exact passage it came from.

The default answerer is extractive and needs no LLM. It reads the retrieved chunks as citable
units (sentences, and quotations kept whole: ``segments``), asks the reader (a trained
cross-encoder, ``reader``) how likely each is to answer *this* question, and either

- answers: the best unit first, then only units that add another part of the answer (for a
  question that asks for several things, or a second source that gives another figure); each
  quoted verbatim with its offsets in the stored text, so every citation verifies by
  construction; or
- refuses, when no unit reaches the reader's threshold, saying what the documents mention and
  what they do not (``refusal``).

The reader is the reranker too: it reads the units of the first ``read_chunks`` retrieved
chunks (not only the first few documents), so an answer further down is found and unrelated
documents that crowd the top cannot push it out. Word overlap only orders the units so that
the reader's budget (``read_units``) goes to the likeliest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from assistant.answer.question import Frame, analyse
from assistant.answer.reader import Reader, Unit
from assistant.answer.refusal import NO_ANSWER, explain, surface
from assistant.answer.segments import document_units
from assistant.search.recency import parse_iso, relative_window, window_fit
from assistant.settings import Settings
from assistant.text import jaccard, neutralise_markers, question_entities, terms, words
from assistant.types import Chunk, Citation, Hit

MIN_WORDS = 4
# The order the reader reads in: the question's terms (idf-weighted) in the unit, in the unit
# before it and the title (NEAR_WEIGHT), and the retrieval rank of its chunk.
NEAR_WEIGHT = 0.5
RANK_WEIGHT = 0.2
FIRST_READ = 16  # units read first; the rest of read_units only when none reaches CONFIDENT
CONFIDENT = 0.9
LEAD_UNITS = 2  # the first units of each of the best documents are read whatever they say
LEAD_DOCS = 3
NEAR_DUPLICATE = 0.6  # term overlap above which a unit repeats one already chosen
FACT_UNITS = 2
FURTHER = 0.6  # a further unit needs this share of the best unit's probability
LIST_UNITS = 3
CONTEXT_WEIGHT = 0.35  # weight of the earlier conversation's terms in a follow-up

__all__ = ["NO_ANSWER", "Draft", "ExtractiveAnswerer", "chunk_span", "located"]


@dataclass
class Candidate:
    """One citable unit of a retrieved document."""

    doc_id: str
    start: int
    end: int
    text: str
    hit: Hit  # the best-ranked retrieved chunk of its document
    before: str  # the citable unit before it in its document
    index: int  # its position among its document's citable units
    doc_rank: int  # 1 = the document of the best hit
    chunk_rank: int  # rank of the retrieved chunk it lies in (its document's best if none)
    prior: float = 0.0  # word overlap and rank: the order the reader reads in
    score: float = 0.0  # the reader's probability that it answers
    span: tuple[int, int] | None = None  # the answer phrase, offsets in the document


@dataclass
class Draft:
    answered: bool
    answer: str
    citations: list[Citation]
    notices: list[str] = field(default_factory=list)
    verification: dict[str, int] | None = None  # set when an LLM wrote the answer
    # an LLM answer whose opening sentence did not survive verification: what is left is
    # what came after the answer, so the offline answer may serve better
    lost_opening: bool = False


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


def asks(text: str) -> bool:
    """A unit that is itself a question (a newsletter's quiz line, a quoted question): it may
    repeat the reader's question word for word, but it never answers one."""
    return text.rstrip("”\"’')]").endswith("?")


def candidates(hits: list[Hit], doc_texts: dict[str, str], chunks: int = 24) -> list[Candidate]:
    """The citable units of the first ``chunks`` retrieved chunks, and the lead units of the
    best documents (news often names the answer in its first sentences while the chunk that
    matched the question is further down). A story stored as its headline alone is quoted by
    its headline. Units that repeat one already taken (a syndicated copy) are left out."""
    ranked = sorted(hits, key=lambda h: h.rank)[:chunks]
    best: dict[str, Hit] = {}
    spans: dict[str, list[tuple[int, int, int]]] = {}
    docs: dict[str, str] = {}
    for hit, doc, start, end in located(ranked, doc_texts):
        best.setdefault(hit.chunk.doc_id, hit)
        spans.setdefault(hit.chunk.doc_id, []).append((start, end, hit.rank))
        docs[hit.chunk.doc_id] = doc
    out: list[Candidate] = []
    seen: set[str] = set()
    for doc_rank, (doc_id, hit) in enumerate(best.items(), start=1):
        doc = docs[doc_id]
        units = [u for u in document_units(doc) if u.citable]
        if not units:
            units = [u for u in document_units(doc) if u.kind == "heading"]
        for i, u in enumerate(units):
            rank = next((r for a, b, r in spans[doc_id] if a <= u.start < b), None)
            if rank is None and not (i < LEAD_UNITS and doc_rank <= LEAD_DOCS):
                continue
            text = doc[u.start : u.end]
            key = " ".join(text.lower().split())
            if key in seen or len(words(text)) < MIN_WORDS or asks(text):
                continue
            seen.add(key)
            before = doc[units[i - 1].start : units[i - 1].end] if i else ""
            out.append(
                Candidate(
                    doc_id,
                    u.start,
                    u.end,
                    text,
                    hit,
                    before,
                    i,
                    doc_rank,
                    rank if rank is not None else hit.rank,
                )
            )
    return out


class ExtractiveAnswerer:
    """Quotes the units the reader says answer; refuses, saying what is missing, when none
    does."""

    def __init__(
        self,
        settings: Settings,
        idf: Callable[[str], float | None],
        reader: Reader,
    ) -> None:
        self.settings = settings
        self.idf = idf
        self.reader = reader

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
        # an average weight rather than a veto.
        typical = sum(w.values()) / len(w) if w else 1.0
        for t, scale in unseen:
            w[t] = max(w.get(t, 0.0), typical * scale)
        return w

    def rank(
        self,
        question: str,
        hits: list[Hit],
        doc_texts: dict[str, str],
        context: str = "",
        as_of: date | None = None,
    ) -> list[Candidate]:
        """The candidates the reader read, best first, each with its probability (``score``)
        and answer phrase (``span``)."""
        a = self.settings.answer
        pool = candidates(hits, doc_texts, max(a.read_chunks, 1))
        if not pool:
            return []
        weights = self.weights(question, context)
        total = sum(weights.values()) or 1.0
        window = relative_window(question, as_of) if as_of else None
        for c in pool:
            own = set(terms(c.text))
            near = set(terms(c.before)) | set(terms(c.hit.chunk.title))
            lexical = sum(w for t, w in weights.items() if t in own)
            lexical += NEAR_WEIGHT * sum(w for t, w in weights.items() if t in near - own)
            c.prior = lexical / total + RANK_WEIGHT / math.sqrt(c.chunk_rank)
            if window is not None:
                c.prior += RANK_WEIGHT * window_fit(parse_iso(c.hit.chunk.published), window)
        pool.sort(key=lambda c: -c.prior)
        # The reader reads the question itself (pronouns resolved); the earlier question only
        # orders the units, with less weight (``weights``).
        ask = question.strip()
        read: list[Candidate] = []
        # The likeliest units first; the rest only when none of those answers plainly.
        for lo, hi in ((0, min(FIRST_READ, a.read_units)), (FIRST_READ, a.read_units)):
            batch = pool[lo:hi]
            if not batch or (read and max(c.score for c in read) >= CONFIDENT):
                break
            readings = self.reader.read(
                ask, [Unit(c.text, c.hit.chunk.title, c.before) for c in batch]
            )
            for c, r in zip(batch, readings, strict=True):
                c.score = r.prob
                c.span = (c.start + r.span[0], c.start + r.span[1]) if r.span else None
            read += batch
        return sorted(read, key=lambda c: (-c.score, -c.prior))

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
        ranked = self.rank(question, hits, doc_texts, context, as_of)
        if not ranked or ranked[0].score < self.reader.threshold:
            closest = None
            if ranked:
                near = ranked[0].hit.chunk
                text = f"{doc_texts.get(near.doc_id, near.text)}\n{near.title}"
                closest = (neutralise_markers(near.title), near.published,
                           text.lower().replace("’", "'"))  # fmt: skip
            return Draft(False, explain(frame, scope, closest=closest), [])
        return compose(self.select(frame, ranked), doc_texts)

    def select(self, frame: Frame, ranked: list[Candidate]) -> list[Candidate]:
        """The best unit, then units that add another part of the answer: for a question that
        asks for several things ("what support ..."), further units the reader rates close to
        the best; for a fact, one more at most, from another source that gives another answer
        phrase (a different figure: ``compose`` says which source is newer)."""
        first = ranked[0]
        chosen = [first]
        floor = max(self.reader.threshold, FURTHER * first.score)
        limit = min(
            self.settings.answer.max_answer_sentences, LIST_UNITS if frame.list_like else FACT_UNITS
        )
        for c in ranked[1:]:
            if len(chosen) >= limit or c.score < floor:
                break
            if _repeats(c, chosen):
                continue
            if not frame.list_like and not _other_answer(c, chosen):
                continue
            chosen.append(c)
        return chosen


def _phrase(c: Candidate) -> str:
    return c.text[c.span[0] - c.start : c.span[1] - c.start].lower() if c.span else ""


def _other_answer(c: Candidate, chosen: list[Candidate]) -> bool:
    """Another source's unit whose answer phrase differs from every chosen one's."""
    if any(p.doc_id == c.doc_id for p in chosen):
        return False
    mine = _phrase(c)
    return bool(mine) and all(mine != _phrase(p) for p in chosen)


def _repeats(c: Candidate, chosen: list[Candidate]) -> bool:
    vocab = frozenset(terms(c.text))
    return any(jaccard(vocab, frozenset(terms(p.text))) > NEAR_DUPLICATE for p in chosen)


def _scope(hits: list[Hit], doc_texts: dict[str, str]) -> str:
    """Everything the answerer looked at, lower-cased: whole documents and their titles.
    A name the question asks about may sit outside the retrieved chunk."""
    texts = dict.fromkeys(doc_texts.get(h.chunk.doc_id, h.chunk.text) for h in hits)
    titles = dict.fromkeys(h.chunk.title for h in hits)
    return "\n".join([*texts, *titles]).lower().replace("’", "'")


def mentions(text: str, entity: str) -> bool:
    """Whether lower-cased ``text`` has the name, or a word starting with its stem
    ("Ukraine" -> "ukrain" finds "Ukrainian")."""
    if re.search(r"\b" + re.escape(entity) + r"\b", text):
        return True
    stems = terms(entity)
    return not stems or re.search(r"\b" + re.escape(stems[0]), text) is not None


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


def compose(chosen: list[Candidate], doc_texts: dict[str, str] | None = None) -> Draft:
    """The best unit first, under its source's title and date; the rest of that source's
    units in reading order, then the other sources in the order their best unit ranked.
    When the sources give different answers (a figure, a name), the newest leads and the
    others are named as older."""
    by_doc: dict[str, list[Candidate]] = {}
    for c in chosen:
        by_doc.setdefault(c.doc_id, []).append(c)
    order = list(by_doc)
    citations: list[Citation] = []
    paragraphs: list[str] = []
    notices: list[str] = []
    dates = {d: by_doc[d][0].hit.chunk.published for d in order}
    newest = None
    if len({v for v in dates.values() if v}) > 1:
        newest = max(order, key=lambda d: dates[d] or "")
        phrases = {_phrase(by_doc[d][0]) for d in order}
        if len(order) > 1 and "" not in phrases and len(phrases) == len(order):
            order = sorted(order, key=lambda d: dates[d] or "", reverse=True)
        first = by_doc[newest][0].hit.chunk
        notices.append(
            f"the sources date from {min(v for v in dates.values() if v)} to "
            f"{max(v for v in dates.values() if v)}; the newest is “{first.title}” "
            f"({first.published}): where they differ, it is the latest account"
        )
    for i, doc_id in enumerate(order):
        group = by_doc[doc_id]
        group = group[:1] + sorted(group[1:], key=lambda c: c.start) if i == 0 else group
        if i > 0:
            group = sorted(group, key=lambda c: c.start)
        c0 = group[0].hit.chunk
        when = f", {c0.published}" if c0.published else ""
        if newest is not None and doc_id == newest:
            when += " (newest source)"
        elif newest is not None and c0.published and c0.published < (dates[newest] or ""):
            when += " (older source)"
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
                    answer_start=c.span[0] if c.span else None,
                    answer_end=c.span[1] if c.span else None,
                )
            )
            # The citation keeps the exact quote; the answer's copy cannot carry a "[7]" of
            # the document's own, which would read as a marker without a citation.
            parts.append(f"{neutralise_markers(c.text)} [{n}]")
        paragraphs.append(f"From “{neutralise_markers(c0.title)}”{when}: " + " ".join(parts))
    return Draft(True, "\n\n".join(paragraphs), citations, notices=notices)
