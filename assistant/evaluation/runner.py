"""`assistant eval`: retrieval and answer quality on a benchmark, measured the way users feel it.

A dataset is a folder with ``corpus.jsonl`` (a JSONL news dump, read by the ordinary reader)
and one questions file per split (``dev.jsonl``: ``qid, question, question_date, answer_text,
gold_doc_ids, gold_urls``). The corpus is ingested into an index of its own, named after the
dataset and the settings that shape the index, so a second run (or another engineer's run
with the same settings) reuses it and a run with other chunk settings does not clobber it.

Scores are document-level: a question's rank is the first retrieved chunk that comes from one
of its gold documents (matched by the record's id, or its URL). Every report is split by the
week the questions were asked (evaluation/split.py): the first two thirds of the weeks beside
the last third, so a score that only holds on the weeks it was tuned on shows as a gap.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import DatasetError
from assistant.evaluation.split import (
    WeekSplit,
    classify_miss,
    miss_table,
    parts,
    side_by_side,
    split_weeks,
    week_of,
)
from assistant.index.dates import normalise_date
from assistant.settings import Settings

CORPUS_FILE = "corpus.jsonl"
EVAL_K = 10
_QUOTES = "\"'“”‘’«»`"


@dataclass
class Question:
    qid: str
    question: str
    as_of: str | None
    answer_text: str
    gold_ids: frozenset[str]
    gold_urls: frozenset[str]
    week: str = ""  # when it was asked: the dataset's week label, else the ISO week of as_of


@dataclass
class QuestionResult:
    qid: str
    question: str
    as_of: str | None
    rank: int | None  # 1-based rank of the first gold chunk within EVAL_K, None if absent
    answered: bool
    contains_gold: bool
    answer_text: str
    retrieve_ms: float
    answer_ms: float
    gold: list[str]  # the gold documents' titles (and dates), for reading misses
    top: list[str]  # the retrieved documents' titles (and dates), best first
    week: str = ""
    miss: str | None = None  # why the answer lacks the gold answer (split.MISS_KINDS)


@dataclass
class EvalReport:
    dataset: str
    split: str
    index: str
    questions: int
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    ingest: dict[str, Any]
    results: list[QuestionResult] = field(default_factory=list)

    def misses(self, k: int = 1) -> list[QuestionResult]:
        """Questions whose gold document is not at rank <= k."""
        return [r for r in self.results if r.rank is None or r.rank > k]

    @property
    def weeks(self) -> WeekSplit | None:
        return split_weeks(r.week for r in self.results)

    def by_part(self) -> dict[str, list[QuestionResult]]:
        """The results of the first and last part of the weeks, and all of them."""
        split = self.weeks
        out = parts(self.results, split) if split else {"first": [], "last": []}
        return {**out, "all": self.results}

    def misses_by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for part, results in self.by_part().items():
            counts: dict[str, int] = {}
            for r in results:
                if r.miss:
                    counts[r.miss] = counts.get(r.miss, 0) + 1
            out[part] = counts
        return out

    def to_dict(self, with_results: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "dataset": self.dataset,
            "split": self.split,
            "index": self.index,
            "questions": self.questions,
            "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "ingest": self.ingest,
        }
        weeks = self.weeks
        if weeks is not None:
            by_part = self.by_part()
            d["time_split"] = {
                part: {
                    "weeks": list(getattr(weeks, part)),
                    "questions": len(by_part[part]),
                    "metrics": {k: round(v, 4) for k, v in score(by_part[part]).items()},
                }
                for part in ("first", "last")
            }
        d["answer_misses"] = self.misses_by_kind()
        if with_results:
            d["results"] = [asdict(r) for r in self.results]
        return d

    def table(self) -> str:
        rows = [
            f"dataset {self.dataset} ({self.split}, {self.questions} questions)",
            f"index {self.index}",
            "",
        ]
        weeks = self.weeks
        by_part = self.by_part()
        if weeks is None:
            rows += ["| metric | value |", "|---|---|"]
            rows += [f"| {k} | {v:.3f} |" for k, v in self.metrics.items()]
        else:
            metrics = {part: score(results) for part, results in by_part.items()}
            counts = {part: len(results) for part, results in by_part.items()}
            rows.append(side_by_side(metrics, counts, weeks))
        rows += ["", *(f"{k} ms: {v:.1f}" for k, v in self.latency_ms.items())]
        counts = {part: len(results) for part, results in by_part.items()}
        columns = ("first", "last", "all") if weeks else ("all",)
        rows += ["", miss_table(self.misses_by_kind(), counts, columns)]
        return "\n".join(rows)


# --- the dataset ------------------------------------------------------------------------------
def resolve_dataset(name: str | Path, search_from: Iterable[Path] = ()) -> Path:
    """A dataset folder: the path itself, or ``shared/datasets/NAME`` found by walking up from
    the working directory (and ``search_from``), so a bare name works from any checkout."""
    path = Path(name)
    if (path / CORPUS_FILE).is_file():
        return path
    if len(path.parts) == 1:
        starts = [Path.cwd(), *search_from]
        for start in starts:
            for folder in [start.resolve(), *start.resolve().parents]:
                candidate = folder / "shared" / "datasets" / path
                if (candidate / CORPUS_FILE).is_file():
                    return candidate
    if path.is_dir():
        raise DatasetError(f"{path} has no {CORPUS_FILE}: not a dataset folder")
    raise DatasetError(f"no dataset at {path} (a folder with {CORPUS_FILE} and <split>.jsonl)")


def load_questions(path: Path) -> list[Question]:
    if not path.is_file():
        have = sorted(p.stem for p in path.parent.glob("*.jsonl") if p.name != CORPUS_FILE)
        raise DatasetError(f"no split file {path.name} (splits here: {', '.join(have) or 'none'})")
    out: list[Question] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            question = rec["question"]
            if not isinstance(question, str) or not question.strip():
                raise KeyError("question")
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"{path.name} line {lineno}: not a question record ({exc})"
            ) from None
        gold_ids = frozenset(str(g) for g in rec.get("gold_doc_ids") or [] if g)
        gold_urls = frozenset(str(g) for g in rec.get("gold_urls") or [] if g)
        if not gold_ids and not gold_urls:
            raise DatasetError(f"{path.name} line {lineno}: no gold_doc_ids or gold_urls")
        as_of = normalise_date(str(rec.get("question_date") or ""))
        out.append(
            Question(
                qid=str(rec.get("qid", lineno)),
                question=question.strip(),
                as_of=as_of,
                answer_text=str(rec.get("answer_text") or ""),
                gold_ids=gold_ids,
                gold_urls=gold_urls,
                week=week_of(rec.get("week"), as_of),
            )
        )
    if not out:
        raise DatasetError(f"{path.name} holds no questions")
    return out


def eval_index_dir(settings: Settings, dataset: Path) -> Path:
    """``<index_dir>/eval-<dataset>-<hash of the index manifest>``: the settings that shape
    the index pick the folder, so changing them never trips over an index built otherwise."""
    return settings.index.index_dir / eval_name(settings, dataset)


def eval_name(settings: Settings, dataset: Path) -> str:
    from assistant.index.embedding import embedder_dim
    from assistant.index.store import manifest_for

    shape = manifest_for(settings, embedder_dim(settings.index.embedder))
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", dataset.resolve().name)
    return f"eval-{name}-{digest}"


def use_eval_index(settings: Settings, dataset: Path, index: Path | None = None) -> None:
    """Point ``settings`` at the dataset's own index: its folder, and with a shared Chroma
    server or a database its own collection, so the newsroom's index is never touched."""
    settings.index.index_dir = index or eval_index_dir(settings, dataset)
    if settings.index.chroma_url or settings.index.database_url:
        settings.index.collection = eval_name(settings, dataset)


# --- scoring ----------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").lower().split())


def contains_gold(answer: str, quotes: list[str], gold: str) -> bool:
    """Whether the gold answer (quotes stripped, case-insensitive) is in the answer or quotes."""
    says = says_gold(gold)
    return any(says(t) for t in [answer, *quotes])


def says_gold(gold: str) -> Callable[[str], bool]:
    """Whether a text holds the gold answer (quotes stripped, case-insensitive)."""
    needle = _norm(gold.strip().strip(_QUOTES).strip())
    return lambda text: bool(needle) and needle in _norm(text)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def score(results: list[QuestionResult]) -> dict[str, float]:
    n = len(results) or 1
    ranks = [r.rank for r in results]
    return {
        "hits@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "hits@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "hits@10": sum(1 for r in ranks if r is not None and r <= 10) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None) / n,
        "answer_contains_gold": sum(r.contains_gold for r in results) / n,
        "answered": sum(r.answered for r in results) / n,
    }


# --- the run ----------------------------------------------------------------------------------
def run_eval(
    assistant: Any,
    dataset: Path,
    split: str = "dev",
    limit: int | None = None,
    progress: Callable[[int, str], Any] | None = None,
) -> EvalReport:
    """Ingest the dataset's corpus into ``assistant``'s index (incrementally) and score it."""
    questions = load_questions(dataset / f"{split}.jsonl")
    if limit is not None:
        questions = questions[:limit]
    report = assistant.ingest([dataset / CORPUS_FILE], progress=progress)
    bench = Benchmark(dataset, questions)
    # Load what the first question would otherwise pay for (BM25, Chroma's segments, model).
    assistant.retrieve(questions[0].question, as_of=questions[0].as_of)
    bar = progress(len(questions), "questions") if progress else None
    results: list[QuestionResult] = []
    for q in questions:
        results.append(bench.result(assistant, q))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    retrieve = [r.retrieve_ms for r in results]
    answer_ms = [r.answer_ms for r in results]
    return EvalReport(
        dataset=str(dataset),
        split=split,
        index=str(assistant.store.location),
        questions=len(results),
        metrics=score(results),
        latency_ms={
            "retrieve_p50": percentile(retrieve, 50),
            "retrieve_p95": percentile(retrieve, 95),
            "answer_p50": percentile(answer_ms, 50),
            "answer_p95": percentile(answer_ms, 95),
        },
        ingest={
            "docs_added": report.docs_added,
            "docs_unchanged": report.docs_unchanged,
            "chunks_added": report.chunks_added,
            "seconds": round(report.seconds, 2),
        },
        results=results,
    )


class Benchmark:
    """A dataset's questions with what scoring them needs: which of our documents are each
    question's gold ones (the benchmark names them by its own ids or URLs)."""

    def __init__(self, dataset: Path, questions: list[Question]) -> None:
        from assistant.index.readers import ReadError, read_file_report

        corpus = dataset / CORPUS_FILE
        try:
            sources, _problems = read_file_report(corpus, dataset)
        except ReadError as exc:
            raise DatasetError(f"{corpus}: {exc}") from None
        self.questions = questions
        # Our doc ids are derived from the URL; the benchmark names documents by its own ids.
        self.keys = {
            s.doc_id: {k for k in (str(s.extra.get("record_id") or ""), s.url, s.source) if k}
            for s in sources
        }
        self.labels = {s.doc_id: _label(s.title, s.published) for s in sources}

    def gold_docs(self, q: Question) -> set[str]:
        gold_keys = q.gold_ids | q.gold_urls
        return {d for d, k in self.keys.items() if k & gold_keys}

    def result(self, assistant: Any, q: Question) -> QuestionResult:
        """Ask ``q`` and score the answer and the ranking."""
        gold = self.gold_docs(q)
        # Asked first, so its timings include embedding the question (it is cached after).
        answer = assistant.ask(q.question, as_of=q.as_of)
        hits = assistant.retrieve(q.question, top_k=EVAL_K, as_of=q.as_of)
        rank = next((h.rank for h in hits if h.chunk.doc_id in gold), None)
        quotes = [c.quote for c in answer.citations]
        found = contains_gold(answer.answer, quotes, q.answer_text)
        miss = None
        if not found:
            # The documents of the passages retrieved: what the reader read from.
            read_ids = list(dict.fromkeys(h.chunk.doc_id for h in answer.retrieved))
            texts = assistant.store.doc_texts(sorted(gold | set(read_ids)))
            miss = classify_miss(
                says_gold(q.answer_text),
                {d: texts[d] for d in read_ids if d in texts},
                gold,
                [texts[d] for d in gold if d in texts],
            )
        return QuestionResult(
            qid=q.qid,
            question=q.question,
            as_of=q.as_of,
            rank=rank,
            answered=answer.answered,
            contains_gold=found,
            answer_text=q.answer_text,
            retrieve_ms=answer.timings_ms.get("retrieve", 0.0),
            answer_ms=answer.timings_ms.get("answer", 0.0),
            gold=[self.labels[d] for d in sorted(gold)],
            top=list(dict.fromkeys(self.labels.get(h.chunk.doc_id, h.chunk.title) for h in hits)),
            week=q.week,
            miss=miss,
        )


def _label(title: str, published: str | None) -> str:
    return f"{title[:80]} ({published or 'undated'})"
