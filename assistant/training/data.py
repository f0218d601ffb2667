"""Labelled (question, unit) pairs for the reader, from ../shared/datasets, split by time.

- ``realtimeqa-weekly``: each week's quiz questions with the articles a web search returned
  for them. Articles are cleaned and cut into units exactly as ingestion and the answerer do
  (index/cleaning.py, answer/segments.py). A unit holding the gold choice as a whole word and
  sharing the question's or the evidence's words is a positive (at most ``MAX_POSITIVES``);
  other units holding it are left out (a list of the quiz's choices is no answer); units
  without it are negatives, the ones most like the question first. Questions whose articles
  never hold the gold text give negatives only (the documents don't say), minus units much
  like the quiz's evidence (a paraphrased answer is not a negative).
- ``squad2-dev``: split by article. An answer's sentence is a positive with its span; the
  other sentences, and every sentence of an unanswerable question (its plausible answer's
  sentence first), are negatives.
- ``selqa``: answer sentences and the other sentences of their section.

Splits are by time (realtimeqa) and by article (SQuAD), never by question.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.segments import document_units
from assistant.evaluation.weekly_data import (
    TimeSplit,
    WeeklyQuestion,
    answerable,
    gold_pattern,
    holds,
    load_weekly,
    norm,
)
from assistant.text import jaccard, terms

MAX_POSITIVES = 3
HARD_NEGATIVES = 10
RANDOM_NEGATIVES = 4
ABSENT_NEGATIVES = 8  # per question whose articles do not hold the answer
SQUAD_NEGATIVES = 4
SELQA_NEGATIVES = 8
PARAPHRASE = 0.3  # term overlap with the quiz's evidence above which a unit may paraphrase it


@dataclass(frozen=True)
class Pair:
    qid: str
    origin: str  # realtimeqa | squad | selqa
    group: str  # the question's week (YYYYMMDD) or article
    question: str
    text: str
    title: str
    before: str
    label: int
    span: tuple[int, int] | None = None  # the answer's characters in ``text`` (positives)


@dataclass(frozen=True)
class Candidate:
    text: str
    title: str
    before: str


def article_units(text: str, title: str) -> list[Candidate]:
    """The citable units of a stored text, each with its title and the unit before it: what
    the answerer gives the reader."""
    units = [u for u in document_units(text) if u.citable]
    out = []
    for i, u in enumerate(units):
        before = text[units[i - 1].start : units[i - 1].end] if i else ""
        out.append(Candidate(text[u.start : u.end], title, before))
    return out


def _overlap(question: set[str], idf: dict[str, float], text: str) -> float:
    return sum(idf.get(t, 0.0) for t in question & set(terms(text)))


def _ranked_negatives(
    pool: list[Candidate], q_terms: set[str], rng: random.Random, hard: int, rand: int
) -> list[Candidate]:
    df = Counter(t for c in pool for t in set(terms(c.text)))
    idf = {t: math.log(1 + len(pool) / n) for t, n in df.items()}
    ranked = sorted(pool, key=lambda c: -_overlap(q_terms, idf, c.text))
    chosen = ranked[:hard]
    rest = ranked[hard:]
    chosen += rng.sample(rest, min(rand, len(rest)))
    return chosen


def _support(c: Candidate, q_terms: set[str], idf: dict[str, float], ev: frozenset[str]) -> float:
    """How plainly a unit holding the gold text answers: the question's words around it and
    its likeness to the quiz's evidence."""
    ctx = f"{c.before} {c.text}"
    return _overlap(q_terms, idf, ctx) + 5 * jaccard(ev, frozenset(terms(ctx)))


def weekly_pairs(questions: Iterable[WeeklyQuestion], rng: random.Random) -> Iterator[Pair]:
    for q in questions:
        pattern = gold_pattern(q.gold)
        seen: set[str] = set()
        pool: list[Candidate] = []
        for a in q.articles:
            for c in article_units(a.text, a.title):
                if c.text not in seen:
                    seen.add(c.text)
                    pool.append(c)
        if not pool:
            continue
        q_terms = set(terms(q.question))
        ev_terms = frozenset(terms(q.evidence))
        gold_units = [c for c in pool if holds(pattern, c.text)]
        if gold_units:
            df = Counter(t for c in pool for t in set(terms(c.text)))
            idf = {t: math.log(1 + len(pool) / n) for t, n in df.items()}

            support = {id(c): _support(c, q_terms, idf, ev_terms) for c in gold_units}
            scored = sorted(gold_units, key=lambda c: support[id(c)], reverse=True)
            positives = [c for c in scored[:MAX_POSITIVES] if support[id(c)] > 0]
            for c in positives:
                m = pattern.search(norm(c.text)) if pattern else None
                span = (m.start(), m.end()) if m else None
                yield Pair(
                    q.qid, "realtimeqa", q.week, q.question, c.text, c.title, c.before, 1, span
                )
            negatives = [c for c in pool if not holds(pattern, c.text)]
            for c in _ranked_negatives(negatives, q_terms, rng, HARD_NEGATIVES, RANDOM_NEGATIVES):
                yield Pair(q.qid, "realtimeqa", q.week, q.question, c.text, c.title, c.before, 0)
        else:
            negatives = [
                c for c in pool if jaccard(ev_terms, frozenset(terms(c.text))) < PARAPHRASE
            ]
            for c in _ranked_negatives(negatives, q_terms, rng, ABSENT_NEGATIVES - 2, 2):
                yield Pair(q.qid, "realtimeqa", q.week, q.question, c.text, c.title, c.before, 0)


def squad_articles(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return sorted(a["title"] for a in data)


def squad_held_out(titles: list[str]) -> set[str]:
    """Every third article (in title order) is never trained on: SQuAD's check."""
    return {t for i, t in enumerate(sorted(titles)) if i % 3 == 2}


@dataclass
class SquadQuestion:
    qid: str
    article: str
    question: str
    units: list[Candidate]
    answer_unit: int | None  # index in units of the answer's sentence; None: unanswerable
    span: tuple[int, int] | None
    plausible_unit: int | None


def load_squad(path: Path, articles: set[str] | None = None) -> list[SquadQuestion]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for a in data:
        if articles is not None and a["title"] not in articles:
            continue
        title = a["title"].replace("_", " ")
        for p in a["paragraphs"]:
            ctx = p["context"]
            units = [u for u in document_units(ctx) if u.citable]
            cands = [
                Candidate(
                    ctx[u.start : u.end],
                    title,
                    ctx[units[i - 1].start : units[i - 1].end] if i else "",
                )
                for i, u in enumerate(units)
            ]

            def locate(ans: dict[str, object], units: list = units) -> int | None:
                s = int(str(ans["answer_start"]))
                e = s + len(str(ans["text"]))
                for i, u in enumerate(units):
                    if u.start <= s and e <= u.end:
                        return i
                return None

            for qa in p["qas"]:
                if qa.get("is_impossible"):
                    plaus = qa.get("plausible_answers") or []
                    out.append(
                        SquadQuestion(
                            qa["id"],
                            a["title"],
                            qa["question"],
                            cands,
                            None,
                            None,
                            locate(plaus[0]) if plaus else None,
                        )
                    )
                    continue
                ans = qa["answers"][0]
                i = locate(ans)
                if i is None:
                    continue
                s = int(ans["answer_start"]) - units[i].start
                out.append(
                    SquadQuestion(
                        qa["id"],
                        a["title"],
                        qa["question"],
                        cands,
                        i,
                        (s, s + len(ans["text"])),
                        None,
                    )
                )
    return out


def squad_pairs(questions: Iterable[SquadQuestion], rng: random.Random) -> Iterator[Pair]:
    for q in questions:
        first = q.answer_unit if q.answer_unit is not None else q.plausible_unit
        others = [i for i in range(len(q.units)) if i != first]
        q_terms = set(terms(q.question))
        negs = _ranked_negatives([q.units[i] for i in others], q_terms, rng, SQUAD_NEGATIVES - 2, 2)
        if first is not None:
            c = q.units[first]
            label = 1 if q.answer_unit is not None else 0
            yield Pair(
                q.qid,
                "squad",
                q.article,
                q.question,
                c.text,
                c.title,
                c.before,
                label,
                q.span if label else None,
            )
        for c in negs:
            yield Pair(q.qid, "squad", q.article, q.question, c.text, c.title, c.before, 0)


def selqa_pairs(paths: Iterable[Path], rng: random.Random) -> Iterator[Pair]:
    for path in paths:
        for n, rec in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            cands = [str(c) for c in rec["candidates"]]
            title = f"{rec.get('article', '')}: {rec.get('section', '')}".strip(": ")
            answers = set(rec.get("answers") or [])
            pool = [Candidate(c, title, cands[i - 1] if i else "") for i, c in enumerate(cands)]
            qid = f"selqa-{path.stem}-{n}"
            group = str(rec.get("article", ""))
            for i in sorted(answers):
                if 0 <= i < len(pool):
                    c = pool[i]
                    yield Pair(qid, "selqa", group, rec["question"], c.text, c.title, c.before, 1)
            negs = [c for i, c in enumerate(pool) if i not in answers]
            for c in _ranked_negatives(
                negs, set(terms(rec["question"])), rng, SELQA_NEGATIVES - 3, 3
            ):
                yield Pair(qid, "selqa", group, rec["question"], c.text, c.title, c.before, 0)


@dataclass
class DataSet:
    train: list[Pair]
    choose: list[Pair]
    manifest: list[str]


def build(datasets: Path, split: TimeSplit, seed: int) -> tuple[DataSet, list[WeeklyQuestion]]:
    """The training and choosing pairs of ``split``, their manifest, and every weekly
    question (for the report)."""
    rng = random.Random(seed)
    weekly = load_weekly(datasets / "realtimeqa-weekly")
    by_part: dict[str, list[WeeklyQuestion]] = {"train": [], "choose": [], "report": []}
    for q in weekly:
        part = split.part(q.month)
        if part is not None:
            by_part[part].append(q)
    squad_file = datasets / "squad2-dev" / "dev-v2.0.json"
    titles = squad_articles(squad_file)
    held = squad_held_out(titles)
    squad_train = load_squad(squad_file, set(titles) - held)
    selqa = sorted((datasets / "selqa").glob("selqa-ass-*.json"))
    train = [
        *weekly_pairs(by_part["train"], rng),
        *squad_pairs(squad_train, rng),
        *selqa_pairs(selqa, rng),
    ]
    choose = list(weekly_pairs(by_part["choose"], rng))
    rng.shuffle(train)

    def count(pairs: list[Pair], origin: str) -> str:
        got = [p for p in pairs if p.origin == origin]
        qs = len({p.qid for p in got})
        return f"{len(got):,} pairs ({sum(p.label for p in got):,} positive) from {qs:,} questions"

    manifest = [
        f"split {split.name}: realtimeqa-weekly train {split.train[0]}..{split.train[1]}, "
        f"choose {split.choose[0]}..{split.choose[1]}, report "
        + ", ".join(f"{a}..{b}" for a, b in split.report),
        f"realtimeqa-weekly: {len(weekly):,} questions "
        f"({sum(answerable(q) for q in weekly):,} answerable from their articles); "
        + ", ".join(f"{k} {len(v):,}" for k, v in by_part.items()),
        f"  train: {count(train, 'realtimeqa')}",
        f"  choose: {count(choose, 'realtimeqa')}",
        f"squad2-dev: {len(titles)} articles, {len(held)} held out (every third by title); "
        f"train: {count(train, 'squad')}",
        f"selqa: {', '.join(p.name for p in selqa)}; train: {count(train, 'selqa')}",
        f"seed {seed}; {len(train):,} training pairs, {len(choose):,} choosing pairs",
    ]
    return DataSet(train, choose, manifest), weekly
