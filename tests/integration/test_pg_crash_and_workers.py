"""With PostgreSQL and a Chroma server: an ingestion SIGKILLed anywhere is finished by the next
run (no index state differs from a clean build), and ingestions in several processes share
one queue, each document written by exactly one of them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from assistant.app import Assistant
from tests.support.corpusgen import write_corpus
from tests.support.servers import cli_env, kill_when, run_cli, start_cli

N_DOCS = 24
BATCH = "16"  # chunks per batch: several batches, so kills land between and inside them


def settings_env(database_url: str, chroma_url: str, collection: str, **kw: str) -> dict[str, str]:
    return cli_env(
        database_url=database_url,
        chroma_url=chroma_url,
        collection=collection,
        ingest_batch_chunks=BATCH,
        **kw,
    )


def state(database_url: str, chroma_url: str, collection: str, tmp: Path) -> dict[str, Any]:
    """Everything the index holds for a collection, in PostgreSQL and in Chroma."""
    from assistant.settings import Settings

    a = Assistant(
        Settings(
            database_url=database_url,
            chroma_url=chroma_url,
            collection=collection,
            index_dir=tmp / "unused",
            corpus_dir=tmp / "corpus",
        )  # fmt: skip
    )
    got = a.store.chunks.get(include=["documents", "metadatas", "embeddings"])
    chroma = {
        cid: (text, meta["doc_id"], meta["start"], meta["end"])
        for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }
    vectors = dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))
    with psycopg.connect(database_url) as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return conn.execute(sql, (collection,)).fetchall()

        records = {
            d: (r["source"], h, n)
            for d, h, n, r in rows(
                "SELECT doc_id, hash, chunks, record FROM assistant.documents WHERE collection = %s"
            )
        }
        chunks = {
            c: (d, t, n, v)
            for c, d, t, n, v in rows(
                "SELECT chunk_id, doc_id, text, length, terms::text FROM assistant.chunks "
                "WHERE collection = %s"
            )
        }
        terms = dict(rows("SELECT term, df FROM assistant.terms WHERE collection = %s AND df <> 0"))
        counts = rows(
            "SELECT documents, chunks, total_length FROM assistant.collections WHERE name = %s"
        )
        queued = rows("SELECT count(*) FROM assistant.queue WHERE collection = %s")[0][0]
    return {
        "chroma": chroma,
        "vectors": vectors,
        "records": records,
        "chunks": chunks,
        "terms": terms,
        "counts": counts,
        "queued": queued,
    }


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("records", "chunks", "terms", "counts", "chroma"):
        assert got[key] == want[key], key
    assert got["queued"] == 0
    for cid, vec in got["vectors"].items():
        assert np.allclose(vec, want["vectors"][cid], atol=1e-5), cid
    # The counts kept by the commits agree with the rows.
    documents, chunks, total = got["counts"][0]
    assert documents == len(got["records"]) and chunks == len(got["chunks"])
    assert total == sum(n for _, _, n, _ in got["chunks"].values())


@pytest.fixture(scope="module")
def shared(pg_server: str, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One database and corpus for the module, and the reference: a clean build."""
    from tests.support.postgres import new_database

    url = new_database(pg_server)
    tmp = tmp_path_factory.mktemp("pgcrash")
    write_corpus(tmp / "corpus", N_DOCS, paragraphs=3)
    r = run_cli(["db", "upgrade"], tmp, cli_env(database_url=url))
    assert r.returncode == 0, r.stderr
    r = run_cli(["ingest"], tmp, settings_env(url, chroma_url, "reference"))
    assert r.returncode == 0, r.stderr
    return url, tmp, state(url, chroma_url, "reference", tmp)


PLANTED = ["claimed:2", "added:2", "commit-sql:2", "committed:1", "added:1"]


@pytest.mark.slow
@pytest.mark.parametrize("point", [*PLANTED, "external"])
def test_a_killed_ingestion_is_finished_by_the_next_run(
    shared: Any, chroma_url: str, point: str
) -> None:
    url, tmp, reference = shared
    collection = "kill-" + point.replace(":", "-")
    env = settings_env(url, chroma_url, collection, log_level="DEBUG")
    if point == "external":
        proc = start_cli(["ingest"], tmp, env)
        kill_when(proc, "ingestion: indexed ", 0.05, timeout=300, occurrence=1)
        assert proc.returncode == -9
    else:
        r = subprocess.run(
            [sys.executable, "-m", "tests.support.pg_crashpoints", "ingest"],
            cwd=tmp,
            env={**env, "CRASH_AT": point},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == -9, r.stderr[-3000:]
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM assistant.queue WHERE collection = %s", (collection,)
        ).fetchone()[0]
    assert left > 0  # the kill left work queued
    r = run_cli(["ingest", "--json"], tmp, settings_env(url, chroma_url, collection))
    assert r.returncode == 0, r.stderr
    assert_same(state(url, chroma_url, collection, tmp), reference)


def committed_ids(stderr: str) -> list[str]:
    return [d for line in stderr.splitlines() if "catalog: committed " in line
            for d in line.split("catalog: committed ", 1)[1].split()]  # fmt: skip


@pytest.mark.slow
def test_two_ingestions_share_the_queue_each_document_once(shared: Any, chroma_url: str) -> None:
    url, tmp, reference = shared
    env = settings_env(url, chroma_url, "shared-queue", log_level="DEBUG")
    env["ASSISTANT_INGEST_BATCH_CHUNKS"] = "4"  # many batches
    cmd = [sys.executable, "-m", "tests.support.pg_crashpoints", "ingest"]
    # The first is slow (2 s after each batch), so the second finds work left when it joins.
    first = subprocess.Popen(cmd, cwd=tmp, env={**env, "PAUSE_AFTER_COMMIT": "2"},
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    out1, read1 = collect(first)
    deadline = time.monotonic() + 300
    while "ingestion: writing to" not in "".join(out1):  # it holds the lock and plans
        assert time.monotonic() < deadline and first.poll() is None, "".join(out1)[-3000:]
        time.sleep(0.05)
    # The same files: planned again (queued already, or done) and worked off together.
    second = subprocess.Popen(cmd, cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
    out2, read2 = collect(second)
    assert first.wait(600) == 0, "".join(out1)[-3000:]
    assert second.wait(600) == 0, "".join(out2)[-3000:]
    read1.join(60), read2.join(60)
    one, two = committed_ids("".join(out1)), committed_ids("".join(out2))
    tail = [line for line in out2 if "ingestion" in line or "catalog" in line]
    assert one and two, "".join(tail)[-4000:]
    assert not set(one) & set(two) and len(one) + len(two) == N_DOCS
    assert len(set(one)) == len(one) and len(set(two)) == len(two)
    assert_same(state(url, chroma_url, "shared-queue", tmp), reference)


def collect(proc: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    """Its stderr lines as they come (read on a thread, so the pipe never fills up)."""
    lines: list[str] = []
    assert proc.stderr is not None
    stream = proc.stderr
    reader = threading.Thread(target=lambda: lines.extend(stream), daemon=True)
    reader.start()
    return lines, reader


@pytest.mark.slow
def test_worker_processes_build_the_same_index(shared: Any, chroma_url: str) -> None:
    url, tmp, reference = shared
    env = settings_env(url, chroma_url, "two-workers")
    r = run_cli(["ingest", "--workers", "2", "--json"], tmp, env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert_same(state(url, chroma_url, "two-workers", tmp), reference)
