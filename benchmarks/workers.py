"""`assistant ingest --workers N`: embedding in N processes vs one.

    .venv/bin/python benchmarks/workers.py [--limit 200] [--runs 3] [--workers 1 2]

Each run ingests the first ``--limit`` articles of realtimeqa's ``corpus.jsonl`` (a copy in a
temp dir) into a fresh on-disk index with ``assistant ingest --json`` as a child process, once
per configuration, in an order rotated from run to run:

- ``1 process``: the default (one process, ``embed_threads`` = one batch per core at once);
- ``1 process, 1 thread``: the same with ``embed_threads=1``;
- ``N processes``: ``--workers N`` (each worker gets cores / N threads).

Prints medians of the ingestion's own time (``seconds`` in the report: planning, embedding,
writing; the workers' start-up and model load included) and of the whole command, chunks/s,
and the ratio to the default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def dataset() -> Path:
    for p in (ROOT, *ROOT.parents):
        found = p / "shared" / "datasets" / "realtimeqa" / "corpus.jsonl"
        if found.is_file():
            return found
    raise SystemExit("realtimeqa's corpus.jsonl not found above the checkout")


def run(corpus: Path, work: Path, workers: int, threads: int | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(PYTHONPATH=str(ROOT), ASSISTANT_INDEX_DIR=str(work / "index"))
    if threads is not None:
        env["ASSISTANT_EMBED_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "assistant", "ingest", str(corpus), "--json"]
    cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    return {"seconds": report["seconds"], "wall": wall, "chunks": report["chunks_added"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    args = ap.parse_args()
    configs: list[tuple[str, int, int | None]] = [
        ("1 process", 1, None),
        ("1 process, 1 thread", 1, 1),
        *((f"{n} processes", n, None) for n in args.workers),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with dataset().open(encoding="utf-8") as f:
            lines = [next(f) for _ in range(args.limit)]
        corpus.write_text("".join(lines), encoding="utf-8")
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in configs}
        for r in range(args.runs):
            for i in range(len(configs)):
                name, workers, threads = configs[(i + r) % len(configs)]
                work = Path(tmp) / f"run-{r}-{i}"
                work.mkdir()
                rows[name].append(run(corpus, work, workers, threads))
                print(f"run {r + 1}: {name}: {rows[name][-1]}", file=sys.stderr, flush=True)
    base = statistics.median(x["seconds"] for x in rows["1 process"])
    print(f"ingest of {args.limit} articles, medians of {args.runs} runs, {os.cpu_count()} cores")
    print("| embedding | ingest s | whole command s | chunks/s | vs 1 process |")
    print("|---|---|---|---|---|")
    for name, _, _ in configs:
        sec = statistics.median(x["seconds"] for x in rows[name])
        wall = statistics.median(x["wall"] for x in rows[name])
        chunks = rows[name][0]["chunks"]
        print(f"| {name} | {sec:.1f} | {wall:.1f} | {chunks / sec:.1f} | {base / sec:.2f}x |")


if __name__ == "__main__":
    main()
