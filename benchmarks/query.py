"""Query latency: `ask` and retrieval alone vs a plain llama-index retriever; cold start.

    .venv/bin/python benchmarks/query.py [--dataset DIR] [--runs 5] [--cold-runs 5]

Works on the index `assistant eval` builds for the dataset (built here if missing: about 10
minutes of embedding for realtimeqa on 2 cores). Each run asks every dev question once, warm
(models and indexes loaded), with the question's date as ``as_of``:

- ``ask``: retrieval + extractive answer, end to end through ``Assistant.ask``;
- ``retrieve``: ``Assistant.retrieve`` alone (dense + BM25 fusion, dates, diversity);
- ``llama-index``: ``VectorStoreIndex.from_vector_store(...).as_retriever()`` on the same
  Chroma collection with the same embedder object, dense only.

The embedder's small cache of recent questions is cleared before every call, so each one pays
for embedding its question as a new question would. Cold start runs ``assistant ask`` in a new
process (interpreter start to printed answer). Prints medians over runs of p50/p95 and ratios.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assistant  # noqa: E402,F401  (offline switches before any library loads)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def _fresh(embedder: Any) -> None:
    cache = getattr(embedder, "_cache", None)
    if cache is not None:
        cache.clear()


def timed_ms(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=None, help="default: shared realtimeqa")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold-runs", type=int, default=5)
    args = ap.parse_args()

    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.app import Assistant
    from assistant.evaluation.runner import (
        CORPUS_FILE,
        eval_index_dir,
        load_questions,
        resolve_dataset,
    )
    from assistant.settings import Settings

    dataset = args.dataset or resolve_dataset("realtimeqa", [ROOT])
    settings = Settings()
    settings.index.index_dir = eval_index_dir(settings, dataset)
    a = Assistant(settings)
    report = a.ingest([dataset / CORPUS_FILE])
    if report.docs_added:
        print(
            f"built the index at {settings.index.index_dir} ({report.seconds:.0f} s)",
            file=sys.stderr,
        )
    questions = load_questions(dataset / "dev.jsonl")
    plain = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=a.store.chunks), embed_model=a.embedder
    ).as_retriever(similarity_top_k=settings.retrieval.top_k)

    def one_pass() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"ask": [], "retrieve": [], "llama-index": []}
        for q in questions:
            _fresh(a.embedder)
            out["ask"].append(timed_ms(lambda q=q: a.ask(q.question, as_of=q.as_of)))
            _fresh(a.embedder)
            out["retrieve"].append(timed_ms(lambda q=q: a.retrieve(q.question, as_of=q.as_of)))
            _fresh(a.embedder)
            out["llama-index"].append(timed_ms(lambda q=q: plain.retrieve(q.question)))
        return out

    one_pass()  # warm: models loaded, BM25 read, Chroma's segments in memory
    runs = []
    for i in range(args.runs):
        runs.append(one_pass())
        print(f"run {i + 1}/{args.runs} done", file=sys.stderr)

    cold = []
    q0 = questions[0]
    cmd = [
        sys.executable,
        "-m",
        "assistant",
        "ask",
        q0.question,
        "--index",
        str(settings.index.index_dir),
    ]
    for _ in range(args.cold_runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        cold.append(time.perf_counter() - t0)
        if done.returncode != 0:
            sys.exit(f"`assistant ask` failed: {done.stderr.strip()[-500:]}")
    bare = []
    for _ in range(args.cold_runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)

    n = len(questions)
    print(f"query latency on {dataset.name} ({n} dev questions, {a.store.count()} chunks), ")
    print(f"warm, median over {args.runs} runs of each run's p50/p95")
    print(f"machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}")
    print()
    print("| what | p50 ms | p95 ms |")
    print("|---|---|---|")
    med: dict[str, tuple[float, float]] = {}
    for name in ("ask", "retrieve", "llama-index"):
        p50 = statistics.median(pct(r[name], 50) for r in runs)
        p95 = statistics.median(pct(r[name], 95) for r in runs)
        med[name] = (p50, p95)
        label = {"llama-index": "llama-index dense retriever"}.get(name, name)
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")
    print()
    ratio = med["retrieve"][0] / med["llama-index"][0]
    print(f"retrieve / llama-index retriever (p50): {ratio:.2f}x")
    print(
        f"cold `assistant ask` (process start to answer): median {statistics.median(cold):.2f} s "
        f"over {len(cold)} runs (bare `python -c pass`: {statistics.median(bare):.2f} s)"
    )


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
