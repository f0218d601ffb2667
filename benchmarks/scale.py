"""How the index behaves as the archive grows: synthetic indexes of 10k to 1M chunks.

    .venv/bin/python benchmarks/scale.py --sizes 10000 100000 [1000000] [--modes local postgres]
        [--workdir DIR] [--asks 40] [--baseline-src ../main] [--embedder NAME]

For each size and mode it builds an index of that many chunks through the product's own
write path (queue, claims, ``Store.write_batch``: Chroma, then the catalog), with news-like
text and random unit vectors instead of embeddings (no model time), then starts
``assistant serve`` on it and measures, warm:

- **new doc -> answerable everywhere**: one new article uploaded through ``/api/documents`` of
  a serve process until ``/api/ask`` retrieves it on every replica (postgres mode runs two,
  and asks the *other* one first); split into the upload request itself (reading, chunking and
  embedding the article, writing it) and the time after it until every replica answers;
  medians of three uploads;
- **ask p50 / p95**: ``/api/ask`` round trips over ``--asks`` questions about random articles;
- **serve RSS**: resident memory of the serve process after the asks (MB), and its peak;
- **disk**: the index folder; in postgres mode the database plus the Chroma server's folder;
- **one-file `assistant ingest`**: a CLI run adding one article (whole process, model load
  included).

Modes: ``local`` = the embedded default (on-disk Chroma, keyword segments);
``postgres`` = ``database_url`` + a Chroma server (the newsroom set-up). PostgreSQL comes from
``--database-url`` or is started in a temporary folder like the tests do.
``--baseline-src DIR`` also starts the serve of another checkout (e.g. ../main, which rebuilds
bm25s from every chunk on each change) on the local index, for a before/after of that mode.

Indexes are kept in ``--workdir`` (default /tmp/assistant-scale) and reused when they exist,
so a big size is built once. Text: word frequencies learnt from shared/datasets/realtimeqa's
corpus when it is there (read in place), else a made-up Zipf vocabulary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import chroma_server, free_port, stop, wait_http  # noqa: E402

CHUNKS_PER_DOC = 5
WORDS_PER_CHUNK = 140
BATCH_DOCS = 400
DIM = 384
UPLOADS = 3  # new documents per measurement (medians)


# --- synthetic news ----------------------------------------------------------------------------
class Newswriter:
    """Deterministic news-like articles: words drawn from a real news vocabulary's frequencies,
    plus a per-article cast of rare names that questions can ask about."""

    def __init__(self, seed: int = 13) -> None:
        words, freqs = _vocabulary()
        self.words = np.array(words, dtype=object)
        self.cdf = np.cumsum(np.asarray(freqs, dtype=np.float64) / sum(freqs))
        self.seed = seed

    def _draw(self, rng: np.random.Generator, n: int) -> list[str]:
        # Inverse-CDF sampling: rng.choice(p=...) re-sums 40k probabilities on every call.
        idx = np.searchsorted(self.cdf, rng.random(n) * self.cdf[-1])
        return list(self.words[np.minimum(idx, len(self.words) - 1)])

    def article(self, i: int) -> tuple[str, str, list[str], list[str]]:
        """(title, published, chunk texts, its names) of article ``i``."""
        rng = np.random.default_rng(self.seed * 1_000_003 + i)
        names = [f"{_syllables(rng)}" for _ in range(3)]
        chunks = []
        for c in range(CHUNKS_PER_DOC):
            body = self._draw(rng, WORDS_PER_CHUNK)
            for name in names:
                body.insert(int(rng.integers(0, len(body))), name.capitalize())
            chunks.append(" ".join(body).capitalize() + f" (part {c + 1}).")
        title = f"{names[0].capitalize()} {' '.join(self._draw(rng, 5))}"
        day = 20200101 + int(rng.integers(0, 4)) * 10000 + int(rng.integers(1, 13)) * 100
        day += int(rng.integers(1, 29))
        published = f"{str(day)[:4]}-{str(day)[4:6]}-{str(day)[6:]}"
        return title, published, chunks, names

    def question(self, i: int) -> str:
        title, _, chunks, names = self.article(i)
        rng = random.Random(i)
        words = chunks[0].split()[5:60]
        return f"What did {names[0].capitalize()} say about {' '.join(rng.sample(words, 4))}?"


def _syllables(rng: np.random.Generator) -> str:
    parts = ["ka", "lo", "vi", "dra", "mon", "tes", "ru", "bel", "quin", "zor", "pha", "nek"]
    return "".join(rng.choice(parts, 4))


def _vocabulary() -> tuple[list[str], list[int]]:
    found = [
        p / "shared" / "datasets" / "realtimeqa" / "corpus.jsonl"
        for p in (ROOT, *ROOT.parents)
        if (p / "shared" / "datasets" / "realtimeqa" / "corpus.jsonl").is_file()
    ]
    if found:
        corpus = found[0]
        import re

        counts: Counter[str] = Counter()
        with corpus.open(encoding="utf-8") as f:
            for line in f:
                text = json.loads(line).get("text") or ""
                counts.update(w for w in re.findall(r"[A-Za-z][a-z]+", text))
        top = counts.most_common(40_000)
        return [w for w, _ in top], [c for _, c in top]
    rng = np.random.default_rng(7)
    words = sorted({_syllables(rng)[: int(rng.integers(3, 9))] for _ in range(30_000)})
    return words, [int(1e6 / (r + 10)) for r in range(len(words))]


# --- building an index through the product's write path -------------------------------------
def build(settings: Any, size: int, writer: Newswriter, log: Any) -> float:
    from llama_index.core.schema import TextNode

    from assistant.index.catalog import WorkItem
    from assistant.index.ingestion import to_document
    from assistant.index.readers import doc_id_for
    from assistant.index.store import Store
    from assistant.types import Source

    store = Store(settings, DIM)
    docs = size // CHUNKS_PER_DOC
    done = store.doc_count()
    rng = np.random.default_rng(size)
    t0 = time.perf_counter()

    def fail(item: WorkItem) -> None:
        raise AssertionError("planned items are chunked already")

    with store.write_lock():
        for lo in range(done, docs, BATCH_DOCS):
            items = []
            for i in range(lo, min(docs, lo + BATCH_DOCS)):
                title, published, chunks, _ = writer.article(i)
                text = "\n\n".join(chunks)
                source = f"synthetic/{i:07d}.txt"
                src = Source(doc_id_for(source), source, text, title, None, published)
                meta = dict(to_document(src).metadata)
                nodes, start = [], 0
                vectors = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                for n, (chunk, vec) in enumerate(zip(chunks, vectors, strict=True)):
                    node = TextNode(
                        id_=f"{src.doc_id}:{n}",
                        text=chunk,
                        metadata={
                            **meta,
                            "doc_id": src.doc_id,
                            "start": start,
                            "end": start + len(chunk),
                            "chunk": n,
                        },  # fmt: skip
                        embedding=vec,
                    )
                    node.excluded_embed_metadata_keys = [k for k in node.metadata if k != "title"]
                    node.excluded_llm_metadata_keys = [k for k in node.metadata if k != "title"]
                    nodes.append(node)
                    start += len(chunk) + 2
                record = {"file": "", "file_hash": "", "hash": f"synthetic-{i}",
                          "source": source, "title": title, "url": "", "published": published,
                          "authors": "", "date_inferred": False}  # fmt: skip
                items.append(WorkItem(src.doc_id, "upsert", src, record, nodes=nodes))
            store.catalog.enqueue(items)
            while (claim := store.catalog.claim(2000, fail)) is not None:
                store.write_batch(claim)
            if (lo // BATCH_DOCS) % 25 == 0:
                rate = (lo + BATCH_DOCS - done) * CHUNKS_PER_DOC / (time.perf_counter() - t0)
                log(
                    f"  built {min(docs, lo + BATCH_DOCS) * CHUNKS_PER_DOC:,} chunks ({rate:.0f}/s)"
                )
    return time.perf_counter() - t0


# --- measuring a serve process ----------------------------------------------------------------
def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@contextmanager
def serve(env: dict[str, str], cwd: Path, src: Path = ROOT) -> Iterator[tuple[str, Any]]:
    port = free_port()
    env = {**env, "PYTHONPATH": str(src)}
    with (cwd / f"serve-{port}.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", 1800, proc)  # type: ignore[arg-type]
        yield url, proc
    finally:
        stop(proc)  # type: ignore[arg-type]


def ask(url: str, question: str, timeout: float = 300) -> tuple[float, dict[str, Any]]:
    import httpx

    t0 = time.perf_counter()
    r = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=timeout,
                   trust_env=False)  # fmt: skip
    r.raise_for_status()
    return (time.perf_counter() - t0) * 1000, r.json()


def new_article(size: int, writer: Newswriter) -> tuple[str, str, str]:
    """(file name, text, question) of an article that is not in the index."""
    i = 10**8 + size * 10 + int(time.time()) % 100_000
    title, published, chunks, names = writer.article(i)
    text = f"{title}\n\nPublished on {published}.\n\n" + "\n\n".join(chunks)
    return f"new-{i}.txt", text, f"What did {names[1].capitalize()} and {names[2].capitalize()} do?"


def measure(
    env: dict[str, str],
    work: Path,
    size: int,
    writer: Newswriter,
    asks: int,
    replicas: int,
    src: Path = ROOT,
) -> dict[str, Any]:
    rng = random.Random(size)
    questions = [writer.question(rng.randrange(size // CHUNKS_PER_DOC)) for _ in range(asks)]
    out: dict[str, Any] = {}
    with ExitStack() as stack:
        servers = [stack.enter_context(serve(env, work, src)) for _ in range(replicas)]
        (url, proc), (other, _) = servers[0], servers[-1]
        for q in questions[:3]:
            ask(url, q)
            ask(other, q)
        times = [ask(url, q)[0] for q in questions]
        out["ask_p50_ms"] = statistics.median(times)
        out["ask_p95_ms"] = statistics.quantiles(times, n=20)[-1]
        out["serve_rss_mb"], out["serve_peak_mb"] = rss_mb(proc.pid)
        runs = [new_doc_answerable(url, [u for u, _ in servers], new_article(size + r, writer))
                for r in range(UPLOADS)]  # fmt: skip
        for key in runs[0]:
            out[key] = statistics.median(run[key] for run in runs)
        out["first_ask_after_ms"] = ask(url, questions[0])[0]
        out["serve_rss_after_mb"], out["serve_peak_after_mb"] = rss_mb(proc.pid)
    return out


def new_doc_answerable(
    url: str, replicas: list[str], article: tuple[str, str, str]
) -> dict[str, float]:
    """Upload ``article`` through ``url``; seconds until every replica retrieves it."""
    import httpx

    name, text, question = article
    t0 = time.perf_counter()
    r = httpx.post(f"{url}/api/documents", files=[("files", (name, text.encode()))],
                   timeout=600, trust_env=False)  # fmt: skip
    r.raise_for_status()
    t1 = time.perf_counter()
    # Every replica, the one that took the upload last. Retrieved is enough: word soup seldom
    # makes a quotable answer, and what is measured here is the index, not the answerer.
    waiting = [u for u in reversed(replicas)]
    while waiting:
        _, got = ask(waiting[0], question)
        if any(h["source"].endswith(name) for h in got["citations"] + got["retrieved"]):
            waiting.pop(0)
        elif time.perf_counter() - t0 > 600:
            raise TimeoutError("the new article never became answerable")
    done = time.perf_counter()
    return {"new_doc_answerable_s": done - t0, "upload_s": t1 - t0,
            "answerable_after_upload_s": done - t1}  # fmt: skip


def one_file_ingest(env: dict[str, str], work: Path, size: int, writer: Newswriter) -> float:
    name, text, _ = new_article(size + UPLOADS, writer)
    path = work / "incoming" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "assistant", "ingest", str(path)]
    env = {**env, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return time.perf_counter() - t0


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# --- the run ------------------------------------------------------------------------------------
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--modes", nargs="+", default=["local", "postgres"],
                   choices=["local", "postgres"])  # fmt: skip
    p.add_argument("--workdir", type=Path, default=Path("/tmp/assistant-scale"))
    p.add_argument("--asks", type=int, default=40)
    p.add_argument(
        "--database-url",
        default=None,
        help="a server to create the scale_<size> databases on (kept for reuse)",
    )
    p.add_argument("--baseline-src", type=Path, default=None)
    p.add_argument(
        "--embedder",
        default=None,
        help="the embedder an index is built and served with (default: the settings' own); "
        "an index kept from a run with another default needs that one",
    )
    args = p.parse_args()

    import assistant  # noqa: F401  (offline switches)

    writer = Newswriter()
    rows: list[dict[str, Any]] = []
    args.workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        server = args.database_url
        if "postgres" in args.modes and server is None:
            from tests.support.postgres import postgres_server

            server = stack.enter_context(postgres_server())
        for size in args.sizes:
            for mode in args.modes:
                rows += run_one(mode, size, server, writer, args)
    print(table(rows))


def run_one(
    mode: str, size: int, server: str | None, writer: Newswriter, args: Any
) -> list[dict[str, Any]]:
    from assistant.settings import Settings

    work = args.workdir / f"{mode}-{size}"
    work.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_INDEX_DIR": str(work / "index"),
                "ASSISTANT_CORPUS_DIR": str(work / "corpus"),
                "ASSISTANT_COLLECTION": f"scale-{size}"})  # fmt: skip
    kw: dict[str, Any] = {"index_dir": work / "index", "corpus_dir": work / "corpus",
                          "collection": f"scale-{size}"}  # fmt: skip
    if args.embedder:
        env["ASSISTANT_EMBEDDER"] = kw["embedder"] = args.embedder
    rows = []
    with ExitStack() as stack:
        if mode == "postgres":
            assert server is not None
            db_url = database_for(server, f"scale_{size}")
            chroma = stack.enter_context(chroma_server(work / "chroma"))
            env.update({"ASSISTANT_DATABASE_URL": db_url, "ASSISTANT_CHROMA_URL": chroma})
            kw.update(database_url=db_url, chroma_url=chroma)
        log(f"{mode} {size:,}: building (or reusing) the index")
        built = build(Settings(**kw), size, writer, log)
        log(f"{mode} {size:,}: built in {built:.0f} s; measuring")
        row: dict[str, Any] = {"mode": mode, "chunks": size, "build_s": built}
        row.update(measure(env, work, size, writer, args.asks, 2 if mode == "postgres" else 1))
        row["ingest_one_file_s"] = one_file_ingest(env, work, size, writer)
        if mode == "local":
            row["disk_mb"] = du_mb(work / "index")
        else:
            row["disk_mb"] = du_mb(work / "chroma") + pg_size_mb(db_url)
            row["chroma_rss_mb"] = chroma_rss_mb(work / "chroma")
        log(json.dumps(row))
        rows.append(row)
        if mode == "local" and args.baseline_src:
            log(f"baseline {size:,}: the serve of {args.baseline_src}")
            base = measure(env, work, size, writer, args.asks, 1, src=args.baseline_src.resolve())
            rows.append({"mode": "local, baseline", "chunks": size, **base})
            log(json.dumps(rows[-1]))
    return rows


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def database_for(server: str, name: str) -> str:
    """The database ``name`` on the server (created and upgraded when missing)."""
    import psycopg

    from assistant.postgres.db import Database
    from assistant.postgres.schema import upgrade

    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {name}")
    url = server.rsplit("/", 1)[0] + f"/{name}"
    with Database(url) as db:
        upgrade(db)
    return url


def chroma_rss_mb(path: Path) -> float:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in cmd and str(path).encode() + b"/db" in cmd:
            return rss_mb(int(proc.name))[0]
    return float("nan")


def pg_size_mb(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]) / 1e6


def table(rows: list[dict[str, Any]]) -> str:
    cols = [("mode", "mode"), ("chunks", "chunks"),
            ("new_doc_answerable_s", "new doc -> answerable everywhere, s"),
            ("upload_s", "of which the upload, s"),
            ("answerable_after_upload_s", "then on every replica, s"),
            ("ask_p50_ms", "ask p50 ms"), ("ask_p95_ms", "ask p95 ms"),
            ("first_ask_after_ms", "first ask after it, ms"), ("serve_rss_mb", "serve RSS MB"),
            ("serve_peak_after_mb", "serve peak MB"), ("chroma_rss_mb", "Chroma server RSS MB"),
            ("disk_mb", "disk MB"),
            ("ingest_one_file_s", "one-file ingest, s"), ("build_s", "build s")]  # fmt: skip
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key, "")
            cells.append(
                f"{v:,}" if isinstance(v, int) else f"{v:,.1f}" if isinstance(v, float) else str(v)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
