"""Query latency: `ask` and retrieval alone vs a plain llama-index retriever; cold start.

    .venv/bin/python benchmarks/query.py [--dataset DIR] [--runs 5] [--cold-runs 5]
                                         [--baseline GIT-REF]

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

``--baseline REF`` measures the code of another commit in the same command, on the same index
and machine: REF is checked out into a git worktree under build/ and this script runs again in
a subprocess with that checkout first on ``sys.path`` (``--code``); its rows are printed beside
these, with the ratios. The index is shared, so REF must build the same index (same embedder
and chunking).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _code_dir(argv: list[str]) -> Path:
    """The checkout whose ``assistant`` package is measured (``--code DIR``; default: this)."""
    if "--code" in argv:
        return Path(argv[argv.index("--code") + 1]).resolve()
    return ROOT


CODE = _code_dir(sys.argv)
sys.path.insert(0, str(CODE))

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
    ap.add_argument("--baseline", default=None, help="a git ref measured in the same run")
    ap.add_argument("--code", type=Path, default=None, help="(internal) checkout to measure")
    ap.add_argument("--json", action="store_true", help="print the medians as JSON")
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

    cold = cold_runs(settings.index.index_dir, questions[0].question, args.cold_runs)
    sample_index = ROOT / "build" / "bench-sample-index"
    sample = Assistant(Settings().replace(index_dir=sample_index))
    sample.ingest([ROOT / "corpus"])
    cold_sample = cold_runs(sample_index, SAMPLE_QUESTION, args.cold_runs)
    bare = []
    for _ in range(args.cold_runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)
    result: dict[str, Any] = {
        name: [statistics.median(pct(r[name], q) for r in runs) for q in (50, 95)]
        for name in ("ask", "retrieve", "llama-index")
    }
    result["cold"] = statistics.median(cold)
    result["cold_sample"] = statistics.median(cold_sample)
    result["bare"] = statistics.median(bare)
    if args.json:
        print(json.dumps(result))
        return
    base = baseline(args) if args.baseline else None

    n = len(questions)
    print(f"query latency on {dataset.name} ({n} dev questions, {a.store.count()} chunks), ")
    print(f"warm, median over {args.runs} runs of each run's p50/p95")
    print(f"machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}")
    print()
    head = "| what | p50 ms | p95 ms |"
    if base is not None:
        head += f" {args.baseline}: p50 ms | p95 ms | p50 ratio | p95 ratio |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for name in ("ask", "retrieve", "llama-index"):
        p50, p95 = result[name]
        label = {"llama-index": "llama-index dense retriever"}.get(name, name)
        row = f"| {label} | {p50:.1f} | {p95:.1f} |"
        if base is not None:
            b50, b95 = base[name]
            row += f" {b50:.1f} | {b95:.1f} | {p50 / b50:.2f}x | {p95 / b95:.2f}x |"
        print(row)
    print()
    ratio = result["retrieve"][0] / result["llama-index"][0]
    print(f"retrieve / llama-index retriever (p50): {ratio:.2f}x")
    for key, what in (("cold", f"on {dataset.name}"), ("cold_sample", "on the sample corpus")):
        line = (
            f"cold `assistant ask` {what} (process start to answer): median "
            f"{result[key]:.2f} s over {len(cold)} runs"
        )
        if base is not None:
            line += f"; {args.baseline}: {base[key]:.2f} s ({result[key] / base[key]:.2f}x)"
        print(line)
    print(f"(bare `python -c pass`: {result['bare']:.2f} s)")


SAMPLE_QUESTION = "What support did NATO pledge to Ukraine?"


def cold_runs(index: Path, question: str, runs: int) -> list[float]:
    """Seconds from a new process's start to its printed answer (the measured checkout's
    ``assistant`` package: ``-m`` imports from the working directory)."""
    cmd = [sys.executable, "-m", "assistant", "ask", question, "--index", str(index)]
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=CODE, check=False)
        out.append(time.perf_counter() - t0)
        if done.returncode != 0:
            sys.exit(f"`assistant ask` failed: {done.stderr.strip()[-500:]}")
    return out


def baseline(args: argparse.Namespace) -> dict[str, Any]:
    """This benchmark run on the code of ``args.baseline`` (a git worktree), same index."""
    tree = ROOT / "build" / f"baseline-{args.baseline}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                        args.baseline], check=True, capture_output=True)  # fmt: skip
    cmd = [sys.executable, str(Path(__file__).resolve()), "--code", str(tree), "--json",
           "--runs", str(args.runs), "--cold-runs", str(args.cold_runs)]  # fmt: skip
    if args.dataset:
        cmd += ["--dataset", str(args.dataset)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the baseline run failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
