"""`assistant eval realtimeqa-weekly --weekly`: the product asked each week's news questions
against that week's articles, and again without the articles that hold the answers.

For each week of ``realtimeqa-weekly``: an index of every article retrieved for that week's
questions (one index per week, kept in ``<index_dir>/eval-weekly/`` so a second run reuses
it); each answerable question (weekly_data.answerable) is asked through ``Assistant.ask`` as
of its question date; then again with every article of the week that holds any of the week's
gold answers left out (``exclude_docs``): the right result there is a refusal.

Reported per part of the time split (training/data.py SPLITS: where the reader was fitted,
where it was chosen, where it is reported):

- answered: share of the answerable questions answered;
- answer-has-gold: the gold answer in the answer or its quotes (runner.contains_gold);
- precision: right among answered;
- refused-when-removed: share refused once the answering articles are gone;
- mean words of the answers given.

A run records each question's best reader probability (full pool and removed), so
``sweep`` can say what any threshold would give without asking again: the threshold is chosen
on the choosing weeks and only then looked at on the reported ones.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.evaluation.runner import contains_gold, percentile
from assistant.evaluation.weekly_data import (
    SPLITS,
    WeeklyQuestion,
    answerable,
    gold_pattern,
    holds,
)
from assistant.settings import Settings
from assistant.text import strip_markers
from assistant.types import Filters

if TYPE_CHECKING:
    from assistant.answer.reader import Reader, Reading, Unit


@dataclass
class Record:
    qid: str
    week: str
    month: str
    question: str
    gold: str
    answered: bool
    right: bool
    words: int
    best: float  # the reader's best probability over the units it read
    removed_answered: bool
    removed_best: float
    removed_right: bool  # answered without the answering articles, and still holds the gold
    answer: str
    retrieve_ms: float
    answer_ms: float


class Recording:
    """A reader that remembers the best probability it gave since the last ``take`` (for
    ``sweep``)."""

    def __init__(self, inner: Reader) -> None:
        self.inner = inner
        self.name = inner.name
        self.threshold = inner.threshold
        self.last = 0.0

    def read(self, question: str, units: Sequence[Unit]) -> list[Reading]:
        out = self.inner.read(question, units)
        self.last = max([self.last, *(r.prob for r in out)])
        return out

    def take(self) -> float:
        """The best probability since the last ``take`` (0 when nothing was read)."""
        best, self.last = self.last, 0.0
        return best

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if warm is not None:
            warm()


def _words(answer: str) -> int:
    return len(strip_markers(answer).split())


def week_corpus(questions: list[WeeklyQuestion]) -> list[dict[str, Any]]:
    """Every article retrieved for the week's questions, once, as corpus.jsonl records."""
    seen: dict[str, dict[str, Any]] = {}
    for q in questions:
        for a in q.articles:
            if a.url and a.url not in seen:
                seen[a.url] = {
                    "doc_id": a.url,
                    "url": a.url,
                    "title": a.title,
                    "text": a.text,
                    "publish_date": a.published,
                }
    return list(seen.values())


def _index_name(settings: Settings, week: str) -> str:
    from assistant.index.embedding import embedder_dim
    from assistant.index.store import manifest_for

    shape = manifest_for(settings, embedder_dim(settings.index.embedder))
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:8]
    return f"{week}-{digest}"


def run_week(
    settings: Settings,
    week: str,
    questions: list[WeeklyQuestion],
    threshold: float | None = None,
) -> list[Record]:
    """Index the week's articles (or reuse the index) and ask its answerable questions twice.
    ``threshold`` overrides the reader's (0 answers whenever the reader read anything: what
    ``sweep`` needs)."""
    from assistant.app import Assistant

    s = settings.replace(
        index_dir=settings.index.index_dir / "eval-weekly" / _index_name(settings, week)
    )
    if threshold is not None:
        s = s.replace(reader_threshold=threshold)
    s.index.index_dir.mkdir(parents=True, exist_ok=True)
    corpus = s.index.index_dir / "articles.jsonl"
    records = week_corpus(questions)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if not corpus.exists() or corpus.read_text(encoding="utf-8") != body:
        corpus.write_text(body, encoding="utf-8")
    a = Assistant(s)
    a.ingest([corpus])
    # (An Assistant of a commit before the reader, measured as a baseline, has none to record.)
    reader = Recording(a.reader) if hasattr(type(a), "reader") else None
    if reader is not None:
        a.__dict__["reader"] = reader
    by_url = {d["url"] or d["source"]: d["doc_id"] for d in a.documents()}
    asked = [q for q in questions if answerable(q)]
    golds = [gold_pattern(q.gold) for q in asked]
    holding = sorted(
        {
            by_url[r["url"]]
            for r in records
            if r["url"] in by_url and any(holds(p, r["text"]) for p in golds)
        }
    )
    out: list[Record] = []
    for q in asked:
        ans = a.ask(q.question, as_of=q.date)
        best = reader.take() if reader is not None else 0.0
        gone = a.ask(q.question, as_of=q.date, filters=Filters(exclude_docs=holding))
        removed_best = reader.take() if reader is not None else 0.0
        quotes = [c.quote for c in ans.citations]
        out.append(
            Record(
                qid=q.qid,
                week=week,
                month=q.month,
                question=q.question,
                gold=q.gold,
                answered=ans.answered,
                right=ans.answered and contains_gold(ans.answer, quotes, q.gold),
                words=_words(ans.answer) if ans.answered else 0,
                best=best,
                removed_answered=gone.answered,
                removed_best=removed_best,
                removed_right=gone.answered
                and contains_gold(gone.answer, [c.quote for c in gone.citations], q.gold),
                answer=ans.answer,
                retrieve_ms=ans.timings_ms.get("retrieve", 0.0),
                answer_ms=ans.timings_ms.get("answer", 0.0),
            )
        )
    return out


def run_weekly(
    settings: Settings,
    questions: Iterable[WeeklyQuestion],
    months: Callable[[str], bool],
    threshold: float | None = None,
    progress: Callable[[int, str], Any] | None = None,
    cache: Path | None = None,
    every: int = 1,
) -> list[Record]:
    """Every week whose month ``months`` accepts (with ``every`` N, only the first of each N
    in date order: a sample when building every week's index takes too long); with ``cache``
    (a JSONL file) weeks already run with the same threshold are read back instead of asked
    again."""
    weeks: dict[str, list[WeeklyQuestion]] = {}
    for q in questions:
        if months(q.month):
            weeks.setdefault(q.week, []).append(q)
    if every > 1:
        weeks = {w: weeks[w] for w in sorted(weeks)[::every]}
    done: dict[str, list[Record]] = {}
    if cache is not None and cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            r = Record(**json.loads(line))
            done.setdefault(r.week, []).append(r)
    bar = progress(len(weeks), "weeks") if progress else None
    out: list[Record] = []
    for week in sorted(weeks):
        if week in done:
            got = done[week]
        else:
            got = run_week(settings, week, weeks[week], threshold)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                with cache.open("a", encoding="utf-8") as f:
                    for r in got:
                        f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
        out += got
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


METRICS = (
    "questions",
    "answered",
    "answer_has_gold",
    "precision",
    "refused_when_removed",
    "mean_words",
    "answer_p50_ms",
    "answer_p95_ms",
)


def metrics(records: list[Record], threshold: float | None = None) -> dict[str, float]:
    """The part's figures; with ``threshold`` those that threshold would give (the records
    must come from a run that answered whenever the reader read anything)."""
    n = len(records) or 1
    if threshold is None:
        answered = [r.answered for r in records]
        right = [r.right for r in records]
        refused = [not r.removed_answered for r in records]
    else:
        answered = [r.answered and r.best >= threshold for r in records]
        right = [a and r.right for a, r in zip(answered, records, strict=True)]
        refused = [not (r.removed_answered and r.removed_best >= threshold) for r in records]
    words = [r.words for r, a in zip(records, answered, strict=True) if a]
    ms = [r.answer_ms for r in records]
    return {
        "questions": float(len(records)),
        "answered": sum(answered) / n,
        "answer_has_gold": sum(right) / n,
        "precision": sum(right) / max(1, sum(answered)),
        "refused_when_removed": sum(refused) / n,
        "mean_words": statistics.fmean(words) if words else 0.0,
        "answer_p50_ms": percentile(ms, 50),
        "answer_p95_ms": percentile(ms, 95),
    }


def choose_threshold(records: list[Record], grid: Sequence[float] | None = None) -> float:
    """The threshold that maximises answer-has-gold + refused-when-removed (a right answer
    and a right refusal count the same) on ``records``; ties go to the higher threshold (a
    refusal is the cheaper mistake for a reporter)."""
    grid = grid or [i / 100 for i in range(1, 100)]
    best = max(
        grid,
        key=lambda t: (
            round(
                metrics(records, t)["answer_has_gold"]
                + metrics(records, t)["refused_when_removed"],
                6,
            ),
            t,
        ),
    )
    return float(best)


def table(parts: dict[str, list[Record]], threshold: float | None = None) -> str:
    head = "| metric | " + " | ".join(f"{p} ({len(r)} q)" for p, r in parts.items()) + " |"
    rows = [head, "|---|" + "---|" * len(parts)]
    ms = {p: metrics(r, threshold) for p, r in parts.items()}
    for name in METRICS[1:]:
        cells = " | ".join(
            f"{ms[p][name]:.1f}" if name.endswith(("words", "ms")) else f"{ms[p][name]:.3f}"
            for p in parts
        )
        rows.append(f"| {name.replace('_', '-')} | {cells} |")
    return "\n".join(rows)


def resolve_weekly(name: str | Path, search_from: Iterable[Path] = ()) -> Path | None:
    """A realtimeqa-weekly folder (``<year>/<YYYYMMDD>_qa.jsonl``): the path, or
    ``shared/datasets/NAME`` above the working directory; None when there is none."""
    path = Path(name)
    if any(path.glob("*/*_qa.jsonl")):
        return path
    if len(path.parts) == 1:
        for start in [Path.cwd(), *search_from]:
            for folder in [start.resolve(), *start.resolve().parents]:
                candidate = folder / "shared" / "datasets" / path
                if any(candidate.glob("*/*_qa.jsonl")):
                    return candidate
    return None


@dataclass
class WeeklyReport:
    split: str
    threshold: float
    chosen: bool  # the threshold was chosen here, on the choosing weeks (a sweep)
    parts: dict[str, list[Record]]
    every: int = 1  # one week in every ``every`` was asked

    def table(self) -> str:
        how = "chosen on the choosing weeks" if self.chosen else "the reader's"
        sweep = self.threshold if self.chosen else None
        sample = f"; one week in {self.every}" if self.every > 1 else ""
        return (
            f"weekly pools, time split {self.split}{sample}; threshold {self.threshold:.2f} "
            f"({how})\n" + table(self.parts, sweep)
        )

    def to_dict(self) -> dict[str, Any]:
        sweep = self.threshold if self.chosen else None
        return {
            "split": self.split,
            "threshold": self.threshold,
            "chosen": self.chosen,
            "every": self.every,
            "metrics": {p: metrics(r, sweep) for p, r in self.parts.items()},
        }


def run_weekly_eval(
    settings: Settings,
    folder: Path,
    split: str = "forward",
    parts: Sequence[str] = ("choose", "report"),
    sweep: bool = False,
    progress: Callable[[int, str], Any] | None = None,
    cache_dir: Path | None = None,
    every: int = 1,
) -> WeeklyReport:
    """The weekly-pool figures of ``parts`` of the time split ``split``. With ``sweep`` the
    questions are asked with a threshold of 0 and the threshold is then chosen on the
    choosing weeks (``choose_threshold``) and applied to every part."""
    from assistant.answer.reader import make_reader
    from assistant.evaluation.weekly_data import load_weekly

    time_split = SPLITS[split]
    questions = load_weekly(folder)
    reader = make_reader(settings)
    threshold = 0.0 if sweep else reader.threshold
    model = str(getattr(reader, "card", {}).get("sha256", reader.name))[:12]
    out: dict[str, list[Record]] = {}
    for part in parts:
        cache = None
        if cache_dir is not None:
            tag = "sweep" if sweep else f"t{threshold:.3f}"
            cache = cache_dir / f"weekly-{split}-{part}-{model}-{tag}.jsonl"
        out[part] = run_weekly(
            settings,
            questions,
            lambda m, part=part: time_split.part(m) == part,  # type: ignore[misc]
            threshold if sweep else None,
            progress,
            cache,
            every,
        )
    if sweep:
        threshold = choose_threshold(out["choose"]) if out.get("choose") else 0.5
    return WeeklyReport(split, threshold, sweep, out, every)
