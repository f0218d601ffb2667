"""Where ingestion time goes with many tiny files: embedding, or per-file overhead?

    .venv/bin/python benchmarks/ingest_files.py [--files 2000] [--repeat 3]

Writes ``--files`` one-paragraph notes into a temp folder and ingests them into a fresh index,
timing the embedding and the Chroma writes inside the run (the rest is finding, hashing,
reading, cleaning and chunking the files). Two baselines measured in the same run: the same
notes as records of ONE JSON Lines file (so the per-file cost disappears), and embedding the
same chunk texts alone. Prints medians over ``--repeat`` runs and the ratios to embedding alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import assistant  # noqa: F401  (offline switches first)


def note(n: int) -> str:
    return f"Note {n}\n\nCouncil note number {n} about item {n * 7 % 1000} and its budget.\n"


@contextmanager
def timed(owner: Any, name: str, bucket: list[float]) -> Iterator[None]:
    """Adds the time spent in ``owner.name`` during the block to ``bucket[0]``. Wrappers that
    share a bucket count only the outermost call (the old put_doc calls put_docs)."""
    real: Callable[..., Any] | None = getattr(owner, name, None)
    if real is None:  # not in this version of the code
        yield
        return
    while len(bucket) < 2:
        bucket.append(0.0)  # bucket[1]: how deep inside timed calls we are

    def wrapper(*args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        bucket[1] += 1
        try:
            return real(*args, **kw)
        finally:
            bucket[1] -= 1
            if bucket[1] == 0:
                bucket[0] += time.perf_counter() - t0

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, real)


def ingest_once(paths: list[Path], index: Path, corpus: Path) -> dict[str, float]:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    import assistant.index.ingestion as ingestion
    from assistant.app import Assistant
    from assistant.index.local import LocalCatalog
    from assistant.index.store import Store
    from assistant.settings import Settings

    a = Assistant(Settings(index_dir=index, corpus_dir=corpus))
    _ = a.embedder.embed_texts(["warm up"])  # type: ignore[attr-defined]
    embed, write = [0.0], [0.0]
    with (
        timed(ingestion, "embed_texts", embed),
        timed(LocalCatalog, "put_docs", write),
        timed(Store, "delete_chunks_of", write),
        timed(ChromaVectorStore, "add", write),
    ):
        t0 = time.perf_counter()
        report = a.ingest(paths)
        total = time.perf_counter() - t0
    assert not report.skipped, report.summary()
    return {"total": total, "embed": embed[0], "write": write[0], "docs": report.docs_added}


def embed_only(texts: list[str]) -> float:
    from assistant.index.embedding import make_embedder
    from assistant.settings import Settings

    e = make_embedder(Settings())
    e.embed_texts(["warm up"])  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    e.embed_texts(texts)  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-files-"))
    try:
        files = tmp / "files"
        for n in range(args.files):
            sub = files / f"batch{n // 100:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"note{n:05d}.txt").write_text(note(n), encoding="utf-8")
        dump = tmp / "dump" / "notes.jsonl"
        dump.parent.mkdir()
        dump.write_text(
            "\n".join(json.dumps({"id": f"n{n}", "text": note(n)}) for n in range(args.files)),
            encoding="utf-8",
        )
        from assistant.index.readers import read_file

        texts = [s.text for s in read_file(dump, dump.parent)]
        runs: dict[str, list[dict[str, float]]] = {"files": [], "jsonl": []}
        alone: list[float] = []
        for i in range(args.repeat):  # interleaved, so machine load hits every path alike
            runs["files"].append(ingest_once([files], tmp / f"idx-f{i}", files))
            runs["jsonl"].append(ingest_once([dump], tmp / f"idx-j{i}", dump.parent))
            alone.append(embed_only(texts))
        base = statistics.median(alone)
        print(f"{args.files} one-paragraph documents; medians of {args.repeat} runs (seconds)")
        head = (
            f"{'ingesting':<24} {'total':>7} {'embed':>7} {'write':>7} {'other':>7} {'x embed':>8}"
        )
        print(head)
        print("-" * len(head))
        for label, key in (("one file per note", "files"), ("one JSONL of all notes", "jsonl")):
            med = {
                k: statistics.median(r[k] for r in runs[key]) for k in ("total", "embed", "write")
            }
            other = med["total"] - med["embed"] - med["write"]
            print(
                f"{label:<24} {med['total']:>7.1f} {med['embed']:>7.1f} {med['write']:>7.1f} "
                f"{other:>7.1f} {med['total'] / base:>8.2f}"
            )
        print(f"{'embedding alone':<24} {base:>7.1f} {base:>7.1f} {0:>7.1f} {0:>7.1f} {1:>8.2f}")
        per_file = statistics.median(
            (f["total"] - j["total"]) / args.files
            for f, j in zip(runs["files"], runs["jsonl"], strict=True)
        )
        print(f"per-file overhead (files - JSONL) / files: {per_file * 1000:.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
