"""`assistant eval --answer-runs`: does the answerer answer when the documents hold the answer,
and refuse when they do not?

Four runs over a benchmark's questions (dev only: the heldout split is never read here):

- ``retrieved``: the question asked of the whole index, as a user would;
- ``gold-removed``: the same with the question's gold articles excluded from retrieval. The
  right result is a refusal, unless another article really answers (the gold answer appears
  in a document the answerer saw: counted apart, and checked by hand, see the README);
- ``five+gold``: five short passages, as in reading-comprehension benchmarks: the gold article's
  answering passage (the chunk holding the answer) and four passages of other articles from
  the question's week, the most similar to the question, in a seeded random order;
- ``five-gold``: five such passages without the gold article.

Each run reports answered-right (answered, and the answer or its quotes hold the gold answer),
refused-when-absent, false refusals (refused while the gold passage was there) and the mean
words of the answers given, for all questions and for the two halves of the weeks.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from assistant.answer.segments import quotes_balanced
from assistant.evaluation.runner import (
    CORPUS_FILE,
    DatasetError,
    Question,
    contains_gold,
    load_questions,
)
from assistant.evaluation.runner import Benchmark as GoldDocs
from assistant.evaluation.split import split_weeks
from assistant.types import Chunk, Filters, Hit

RUNS = ("retrieved", "gold-removed", "five+gold", "five-gold")
ABSENT_RUNS = ("gold-removed", "five-gold")
PASSAGES = 5
WEEK_DAYS = 7
_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass
class Benchmark:
    """A dataset's questions, each with its gold documents (our ids) and its week."""

    questions: list[Question]
    gold: dict[str, list[str]]
    weeks: dict[str, str]
    halves: tuple[frozenset[str], frozenset[str]]  # (first two thirds, last third) of weeks
    chunks: dict[str, list[Chunk]]  # doc_id -> its chunks in reading order


@dataclass
class Context:
    hits: list[Hit]
    texts: dict[str, str]


@dataclass
class Outcome:
    qid: str
    run: str
    answered: bool
    right: bool  # answered and the answer or its quotes hold the gold answer
    present: bool  # the gold answer is in what the answerer saw
    words: int
    balanced: bool
    answer: str = ""


@dataclass
class RunsReport:
    outcomes: list[Outcome]
    halves: dict[str, set[str]] = field(default_factory=dict)  # half -> qids

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for run in RUNS:
            for half, qids in [("all", None), *self.halves.items()]:
                got = [o for o in self.outcomes if o.run == run and (qids is None or o.qid in qids)]
                if got:
                    out.append({"run": run, "half": half, **summarise(run, got)})
        return out

    def table(self) -> str:
        head = [
            "| run | weeks | questions | answered-right | refused-when-absent | false refusals "
            "| mean words | unbalanced quotes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        body = []
        for r in self.rows():
            absent = "—" if r["refused_when_absent"] is None else f"{r['refused_when_absent']:.3f}"
            absent += f" ({r['absent']})" if r["absent"] is not None else ""
            body.append(
                f"| {r['run']} | {r['half']} | {r['questions']} | {r['answered_right']:.3f} | "
                f"{absent} | {r['false_refusals']:.3f} | {r['mean_words']:.1f} | "
                f"{r['unbalanced']} |"
            )
        return "\n".join(head + body)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows(), "outcomes": [o.__dict__ for o in self.outcomes]}


def summarise(run: str, got: list[Outcome]) -> dict[str, Any]:
    n = len(got)
    words = [o.words for o in got if o.answered]
    absent = [o for o in got if not o.present] if run in ABSENT_RUNS else []
    present = [o for o in got if o.present] if run in ABSENT_RUNS else got
    return {
        "questions": n,
        "answered": sum(o.answered for o in got) / n,
        "answered_right": sum(o.right for o in got) / n,
        "refused_when_absent": (
            sum(not o.answered for o in absent) / len(absent) if absent else None
        ),
        "absent": len(absent) if run in ABSENT_RUNS else None,
        "false_refusals": (sum(not o.answered for o in present) / len(present) if present else 0.0),
        "mean_words": statistics.fmean(words) if words else 0.0,
        "unbalanced": sum(not o.balanced for o in got),
    }


# --- the benchmark ----------------------------------------------------------------------------
def week_halves(weeks: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The first two thirds of the weeks, and the last third (the time split of every
    `assistant eval` report, evaluation/split.py)."""
    weeks = list(weeks)
    split = split_weeks(weeks)
    if split is None:
        return frozenset(w for w in weeks if w), frozenset()
    return frozenset(split.first), frozenset(split.last)


def load_benchmark(assistant: Any, dataset: Path, split: str = "dev") -> Benchmark:
    """Ingest the corpus (incrementally) and map each question's gold ids to our doc ids."""
    if split != "dev":
        raise DatasetError("answer runs are for the dev split only")
    questions = load_questions(dataset / f"{split}.jsonl")
    weeks = {q.qid: q.week for q in questions}
    assistant.ingest([dataset / CORPUS_FILE])
    known = GoldDocs(dataset, questions)
    gold = {q.qid: sorted(known.gold_docs(q)) for q in questions}
    chunks: dict[str, list[Chunk]] = {}
    for c, _meta in assistant.store.all_chunks():
        chunks.setdefault(c.doc_id, []).append(c)
    for group in chunks.values():
        group.sort(key=lambda c: c.start)
    return Benchmark(questions, gold, weeks, week_halves(weeks.values()), chunks)


# --- the contexts -----------------------------------------------------------------------------
def retrieved(assistant: Any, q: Question, exclude: list[str] | None = None) -> Context:
    """The chunks the answerer reads when the question is asked (``read_chunks`` deep)."""
    filters = Filters(exclude_docs=list(exclude or [])) if exclude else None
    s = assistant.settings
    depth = max(s.retrieval.top_k, s.answer.read_chunks)
    hits = assistant.retrieve(q.question, top_k=depth, filters=filters, as_of=q.as_of)
    return Context(hits, assistant.store.doc_texts([h.chunk.doc_id for h in hits]))


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").lower().split())


def gold_passage(assistant: Any, bench: Benchmark, q: Question) -> Chunk | None:
    """The gold article's first chunk that holds the answer; else its chunk that retrieval
    ranks best for the question; else its first chunk."""
    gold = bench.gold[q.qid]
    chunks = [c for d in gold for c in bench.chunks.get(d, [])]
    needle = _norm(q.answer_text.strip().strip("\"'“”‘’«»` "))
    holding = [c for c in chunks if needle and needle in _norm(c.text)]
    if holding:
        return holding[0]
    hits = assistant.retrieve(q.question, top_k=20, as_of=q.as_of)
    best = [h.chunk for h in hits if h.chunk.doc_id in gold]
    return best[0] if best else (chunks[0] if chunks else None)


def week_passages(assistant: Any, q: Question, gold: list[str], n: int) -> list[Chunk]:
    """The ``n`` passages of other articles from the question's week most like the question
    (one per article)."""
    until = date.fromisoformat(q.as_of) if q.as_of else None
    filters = Filters(exclude_docs=list(gold))
    if until is not None:
        filters.since = (until - timedelta(days=WEEK_DAYS)).isoformat()
        filters.until = until.isoformat()
    hits = assistant.retrieve(q.question, top_k=n * 3, filters=filters, as_of=q.as_of)
    out: list[Chunk] = []
    for h in hits:
        if h.chunk.doc_id not in {c.doc_id for c in out}:
            out.append(h.chunk)
    return out[:n]


def passages(chunks: list[Chunk], seed: str) -> Context:
    """Passages as the answerer's only documents: each its own document, unranked (a seeded
    shuffle decides the order, every score equal)."""
    order = list(chunks)
    random.Random(seed).shuffle(order)
    hits, texts = [], {}
    for i, c in enumerate(order, start=1):
        pid = f"{c.doc_id}#{c.start}"
        chunk = Chunk(
            id=c.id, doc_id=pid, text=c.text, start=0, end=len(c.text), source=c.source,
            title=c.title, url=c.url, published=c.published,
        )  # fmt: skip
        hits.append(Hit(chunk=chunk, score=1.0, rank=i))
        texts[pid] = c.text
    return Context(hits, texts)


def contexts(assistant: Any, bench: Benchmark, q: Question) -> dict[str, Context]:
    gold = bench.gold[q.qid]
    g = gold_passage(assistant, bench, q)
    others = week_passages(assistant, q, gold, PASSAGES)
    return {
        "retrieved": retrieved(assistant, q),
        "gold-removed": retrieved(assistant, q, exclude=gold),
        "five+gold": passages(([g] if g else []) + others[: PASSAGES - 1], q.qid),
        "five-gold": passages(others[:PASSAGES], q.qid),
    }


# --- the run ----------------------------------------------------------------------------------
def as_of(q: Question) -> date | None:
    return date.fromisoformat(q.as_of) if q.as_of else None


def word_count(answer: str) -> int:
    return len(_MARKER.sub("", answer).split())


def run_answer_evals(
    assistant: Any,
    dataset: Path,
    split: str = "dev",
    limit: int | None = None,
    progress: Callable[[int, str], Any] | None = None,
) -> RunsReport:
    bench = load_benchmark(assistant, dataset, split)
    questions = bench.questions[:limit] if limit is not None else bench.questions
    bar = progress(len(questions), "questions") if progress else None
    outcomes: list[Outcome] = []
    for q in questions:
        for run, ctx in contexts(assistant, bench, q).items():
            draft = assistant.answerer.draft(q.question, ctx.hits, ctx.texts, as_of=as_of(q))
            quotes = [c.quote for c in draft.citations]
            seen = [*ctx.texts.values(), *(h.chunk.title for h in ctx.hits)]
            outcomes.append(
                Outcome(
                    qid=q.qid,
                    run=run,
                    answered=draft.answered,
                    right=draft.answered and contains_gold(draft.answer, quotes, q.answer_text),
                    present=run in ("retrieved", "five+gold")
                    or contains_gold("", seen, q.answer_text),
                    words=word_count(draft.answer) if draft.answered else 0,
                    balanced=all(quotes_balanced(t) for t in [draft.answer, *quotes]),
                    answer=draft.answer,
                )
            )
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    early, late = bench.halves
    halves = {
        "first 2/3": {q.qid for q in questions if bench.weeks.get(q.qid) in early},
        "last 1/3": {q.qid for q in questions if bench.weeks.get(q.qid) in late},
    }
    return RunsReport(outcomes, halves)
