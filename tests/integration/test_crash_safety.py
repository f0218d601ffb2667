"""SIGKILL an `assistant ingest` process at several points; the next run must end with exactly
the corpus (compared with an index built cleanly), and the lock must not outlive the process."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.app import Assistant
from assistant.settings import Settings
from tests.support.corpusgen import article, write_corpus
from tests.support.servers import cli_env, kill_when, run_cli, start_cli

N_DOCS = 30
BATCH = "16"  # chunks per write batch: several batches, so kills land between and inside them
# Kills from outside, timed by the ingest log: (needle, occurrence, delay after it in seconds).
EXTERNAL = {
    "lock-taken": ("ingestion: writing to", 1, 0.0),  # reading/chunking/embedding, no writes yet
    "after-batch-1": ("ingestion: indexed ", 1, 0.0),  # between batches
    "in-batch-3": ("ingestion: writing ", 4, 0.01),  # somewhere in a later batch
}
# Kills planted at an exact step of the write sequence (see tests/support/crashpoints.py).
PLANTED = {
    "pending-written": "put_docs:3",  # batch 2's records say "pending", its chunks not yet written
    "old-chunks-deleted": "delete:2",
    "half-the-chunks": "add:2",
    "first-pending": "put_docs:1",
}


def settings_for(index: Path, corpus: Path) -> Settings:
    return Settings(index_dir=index, corpus_dir=corpus)


def state(index: Path, corpus: Path) -> dict[str, Any]:
    """What the index holds, independent of where the corpus lived."""
    a = Assistant(settings_for(index, corpus))  # opening checks the manifest
    got = a.store.chunks.get(include=["documents", "metadatas", "embeddings"])
    chunks = {
        cid: (text, meta["doc_id"], meta["start"], meta["end"])
        for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }
    vectors = dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))
    records = {
        doc_id: (m["source"], m["hash"], m["chunks"]) for doc_id, m in a.store.doc_records().items()
    }
    return {"chunks": chunks, "vectors": vectors, "records": records}


def assert_same_index(got: dict[str, Any], want: dict[str, Any], corpus: Path) -> None:
    assert got["records"] == want["records"]
    assert {source for source, _, _ in got["records"].values()} == {
        p.name for p in corpus.iterdir()
    }
    assert not any(h == "pending" for _, h, _ in got["records"].values())
    assert got["chunks"] == want["chunks"]  # same ids (so no duplicates, none missing), texts
    for cid, vec in got["vectors"].items():
        assert np.allclose(vec, want["vectors"][cid], atol=1e-5), cid
    per_doc: dict[str, int] = {}
    for _, doc_id, _, _ in got["chunks"].values():
        per_doc[doc_id] = per_doc.get(doc_id, 0) + 1
    assert per_doc == {doc_id: n for doc_id, (_, _, n) in got["records"].items()}


def lock_is_free(index: Path) -> bool:
    fd = os.open(index / ".ingest.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("reference")
    write_corpus(tmp / "corpus", N_DOCS, paragraphs=3)
    a = Assistant(settings_for(tmp / "index", tmp / "corpus"))
    assert a.ingest().docs_added == N_DOCS
    return state(tmp / "index", tmp / "corpus")


def kill_ingest(tmp: Path, point: str) -> None:
    env = cli_env(log_level="DEBUG", ingest_batch_chunks=BATCH)
    if point in PLANTED:
        env["CRASH_AT"] = PLANTED[point]
        r = subprocess.run(
            [sys.executable, "-m", "tests.support.crashpoints", "ingest", "--index", "index"],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == -9, r.stderr[-3000:]
        return
    needle, occurrence, delay = EXTERNAL[point]
    proc = start_cli(["ingest", "--index", "index"], tmp, env)
    kill_when(proc, needle, delay, timeout=300, occurrence=occurrence)
    assert proc.returncode == -9


@pytest.mark.slow
@pytest.mark.parametrize(
    "points",
    [
        ["lock-taken"],
        ["after-batch-1"],
        ["in-batch-3"],
        ["pending-written"],
        ["old-chunks-deleted"],
        ["half-the-chunks"],
        ["half-the-chunks", "first-pending"],  # killed again while repairing
    ],
    ids=lambda p: "+".join(p),
)
def test_killed_ingestion_then_rerun_gives_exactly_the_corpus(
    tmp_path: Path, reference: dict[str, Any], points: list[str]
) -> None:
    write_corpus(tmp_path / "corpus", N_DOCS, paragraphs=3)
    index = tmp_path / "index"
    for point in points:
        kill_ingest(tmp_path, point)
        # The dead process held the flock; the kernel dropped it with the process.
        assert json.loads((index / ".ingest.lock").read_text())["pid"] > 0
        assert lock_is_free(index)

    r = run_cli(["ingest", "--index", "index", "--json"], tmp_path, cli_env())
    assert r.returncode == 0, r.stderr  # not refused by the dead process's lock
    assert_same_index(state(index, tmp_path / "corpus"), reference, tmp_path / "corpus")

    # Idempotent: one more run finds nothing to do.
    again = Assistant(settings_for(index, tmp_path / "corpus")).ingest()
    assert again.files_unchanged == N_DOCS and again.chunks_added == again.chunks_removed == 0


@pytest.mark.slow
def test_killed_update_is_finished_by_the_next_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, N_DOCS, paragraphs=3)
    index = tmp_path / "index"
    r = run_cli(["ingest", "--index", "index"], tmp_path, cli_env())
    assert r.returncode == 0, r.stderr
    # Change a third of the articles (longer: more chunks than before), drop one.
    for i in range(0, N_DOCS, 3):
        name, text = article(i, paragraphs=5)
        (corpus / name).write_text(text.replace("Monday", "Friday"), encoding="utf-8")
    (corpus / article(1)[0]).unlink()

    kill_ingest(tmp_path, "half-the-chunks")  # old chunks of batch 2 gone, half the new ones in
    r = run_cli(["ingest", "--index", "index", "--prune"], tmp_path, cli_env())
    assert r.returncode == 0, r.stderr

    ref = tmp_path / "ref"
    Assistant(settings_for(ref / "index", corpus)).ingest()
    assert_same_index(state(index, corpus), state(ref / "index", corpus), corpus)
