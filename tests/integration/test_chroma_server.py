"""Server mode: one real `chroma run` on a loopback port shared by several assistants/processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.app import Assistant
from assistant.index.store import MANIFEST_KEYS, IndexBusy, IndexMismatch
from assistant.settings import Settings
from tests.support.corpusgen import write_corpus
from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS
from tests.support.servers import chroma_server, cli_env, kill_when, run_cli, start_cli

FLOOD = """Flood Warning Issued for River Town

The river authority said on Tuesday, March 7, 2023 that the Wendle river would crest above
flood stage. Residents near the embankment were told to move valuables upstairs.
The mayor said emergency shelters would open at the Wendle stadium and the community hall.
"""
FLOOD_QUESTION = "Where will the emergency shelters open in the Wendle flood?"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url


def server_settings(url: str, collection: str, tmp: Path, **kw: Any) -> Settings:
    # index_dir is never written in server mode; it points into tmp so a mistake would show.
    return Settings(
        chroma_url=url,
        collection=collection,
        index_dir=tmp / "unused-index",
        corpus_dir=tmp / "corpus",
        **kw,
    )


def raw_client(url: str) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = url.removeprefix("http://").split(":")
    return chromadb.HttpClient(
        host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False)
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"


def test_manifest_and_revision_live_on_the_server(
    chroma_url: str, tmp_path: Path, corpus: Path
) -> None:
    a = Assistant(server_settings(chroma_url, "srv-manifest", tmp_path))
    report = a.ingest()
    assert report.docs_added == 2 and a.store.location == chroma_url
    assert not (tmp_path / "unused-index").exists()

    client = raw_client(chroma_url)
    chunks = client.get_collection("srv-manifest")
    assert {k: chunks.metadata[k] for k in MANIFEST_KEYS} == a.store.manifest
    assert chunks.count() == report.chunks_added > 0
    docs = client.get_collection("srv-manifest-docs")
    assert docs.count() == 2
    first_revision = docs.metadata["revision"]
    assert first_revision == a.store.revision() != "0"
    assert a.ask(NATO_QUESTION).answered

    # Opening with other chunking is refused, in this process and in a fresh one.
    other = Assistant(server_settings(chroma_url, "srv-manifest", tmp_path, chunk_size=120))
    with pytest.raises(IndexMismatch, match="chunk_size: index has 200, settings say 120"):
        other.ask(NATO_QUESTION)
    # A rebuild with the other settings replaces the collections on the server; the first
    # assistant, still running, notices on its next question instead of mixing chunkings.
    assert other.ingest(rebuild=True).docs_added == 2
    assert client.get_collection("srv-manifest").metadata["chunk_size"] == 120
    assert client.get_collection("srv-manifest-docs").metadata["revision"] != first_revision
    with pytest.raises(IndexMismatch, match="chunk_size: index has 120, settings say 200"):
        a.ask(NATO_QUESTION)
    assert other.ask(NATO_QUESTION).answered


def test_a_long_lived_reader_sees_another_writer_without_restarting(
    chroma_url: str, tmp_path: Path, corpus: Path
) -> None:
    reader = Assistant(server_settings(chroma_url, "srv-live", tmp_path))
    writer = Assistant(server_settings(chroma_url, "srv-live", tmp_path))  # own client
    writer.ingest()
    before = reader.ask(FLOOD_QUESTION)
    assert not any(c.source == "flood.txt" for c in before.citations)
    revision = reader.retriever.keyword._revision

    (corpus / "flood.txt").write_text(FLOOD, encoding="utf-8")
    assert writer.ingest().docs_added == 1
    after = reader.ask(FLOOD_QUESTION)
    assert reader.retriever.keyword._revision not in (None, revision)
    flood_hits = [h for h in after.retrieved if h.chunk.source == "flood.txt"]
    # Found by both retrievers: the BM25 side was rebuilt, not only the dense side.
    assert flood_hits and flood_hits[0].lexical is not None and flood_hits[0].dense is not None
    assert after.answered and any(c.source == "flood.txt" for c in after.citations)
    assert "stadium" in after.answer

    # And it is refreshed only when something changed.
    loaded = reader.retriever.keyword._current()
    writer.ingest()  # nothing to do: no new revision
    assert reader.retriever.keyword._current() is loaded


def test_second_writer_is_refused_while_the_lease_is_held(
    chroma_url: str, tmp_path: Path, corpus: Path
) -> None:
    first = Assistant(server_settings(chroma_url, "srv-lease", tmp_path))
    second = Assistant(server_settings(chroma_url, "srv-lease", tmp_path))
    client = raw_client(chroma_url)
    with first.store.write_lock():
        lock = client.get_collection("srv-lease-lock")
        assert lock.metadata["pid"] == os.getpid()
        with pytest.raises(IndexBusy) as busy:
            second.ingest()
        message = str(busy.value)
        assert "Another ingestion" in message and f"pid {os.getpid()}" in message
        assert "srv-lease" in message and chroma_url in message
    names = {c.name for c in client.list_collections()}
    assert "srv-lease-lock" not in names  # released, and no tombstones left behind
    assert not any(n.startswith("srv-lease-lock") for n in names)
    assert second.ingest().docs_added == 2


def _plant_lease(client: Any, collection: str, **meta: Any) -> None:
    client.create_collection(f"{collection}-lock", embedding_function=None, metadata=meta)


def test_a_stale_lease_is_taken_over_and_a_live_one_respected(
    chroma_url: str, tmp_path: Path, corpus: Path
) -> None:
    client = raw_client(chroma_url)
    now = client.heartbeat() / 1e9
    a = Assistant(server_settings(chroma_url, "srv-stale", tmp_path))

    # Another machine's live lease: refused, with how long it still runs.
    _plant_lease(client, "srv-stale", host="elsewhere", pid=1, owner="pid 1 on elsewhere",
                 expires=now + 120)  # fmt: skip
    with pytest.raises(IndexBusy, match=r"pid 1 on elsewhere.*lease ends in 1[12]\d s"):
        a.ingest()
    client.delete_collection("srv-stale-lock")

    # Its lease ran out (the machine died): taken over.
    _plant_lease(client, "srv-stale", host="elsewhere", pid=1, expires=now - 1)
    assert a.ingest().docs_added == 2

    # A live lease of a process of this machine that is gone: taken over at once.
    from assistant.index.lease import owner_record

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    record = {**owner_record(), "pid": int(dead.stdout), "started": "1"}
    _plant_lease(client, "srv-stale", **record, expires=now + 600)
    (corpus / "flood.txt").write_text(FLOOD, encoding="utf-8")
    assert a.ingest().docs_added == 1
    assert "srv-stale-lock" not in {c.name for c in client.list_collections()}


def test_a_writer_that_lost_its_lease_stops(chroma_url: str, tmp_path: Path, corpus: Path) -> None:
    a = Assistant(server_settings(chroma_url, "srv-lost", tmp_path))
    client = raw_client(chroma_url)
    with a.store.write_lock():
        lease = a.store._lease
        # What a process that judged this lease expired does: move it away and take its name.
        client.get_collection("srv-lost-lock").modify(name="srv-lost-lock-gone-test")
        client.delete_collection("srv-lost-lock-gone-test")
        _plant_lease(client, "srv-lost", host="elsewhere", pid=1, expires=1e12)
        with pytest.raises(Exception, match="taken over"):
            lease.renew()
        with pytest.raises(IndexBusy, match="taken over"):
            a.store.check_writer()
    # Releasing a lost lease must not delete the new holder's lease.
    assert client.get_collection("srv-lost-lock").metadata["host"] == "elsewhere"
    client.delete_collection("srv-lost-lock")


# --- two real processes ----------------------------------------------------------------------


@pytest.mark.slow
def test_ingest_in_one_process_ask_in_another(
    chroma_url: str, tmp_path: Path, corpus: Path
) -> None:
    env = cli_env(chroma_url=chroma_url, collection="srv-procs", log_level="INFO")
    # A long-lived assistant in this process, like a running server.
    server_like = Assistant(server_settings(chroma_url, "srv-procs", tmp_path))

    r = run_cli(["ingest", "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["docs_added"] == 2
    assert not (tmp_path / "index").exists()  # nothing written to the default on-disk index

    r = run_cli(["ask", NATO_QUESTION, "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["answered"] and answer["citations"]
    assert answer == {**answer, "question": NATO_QUESTION}
    assert server_like.ask(NATO_QUESTION).answer == answer["answer"]  # consistent answers

    assert not server_like.ask(FLOOD_QUESTION).answered
    (tmp_path / "flood.txt").write_text(FLOOD, encoding="utf-8")
    r = run_cli(["ingest", "corpus", "flood.txt", "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["docs_added"] == 1
    seen = server_like.ask(FLOOD_QUESTION)
    assert seen.answered and {c.source for c in seen.citations} == {"flood.txt"}

    # A rebuild from the other process: the long-lived one keeps answering from the new index.
    r = run_cli(["ingest", "--rebuild", "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    after = server_like.ask(FLOOD_QUESTION)
    assert not any(c.source == "flood.txt" for c in after.citations)
    assert server_like.ask(NATO_QUESTION).answered


@pytest.mark.slow
def test_two_ingestions_at_once_one_is_refused(chroma_url: str, tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus", 30, paragraphs=3)
    env = cli_env(
        chroma_url=chroma_url, collection="srv-race", log_level="INFO", ingest_batch_chunks="16"
    )
    proc = start_cli(["ingest"], tmp_path, env)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        while "writing to" not in (proc.stderr.readline() or "writing to"):
            assert time.monotonic() < deadline
        other = Assistant(server_settings(chroma_url, "srv-race", tmp_path))
        with pytest.raises(IndexBusy, match=f"Another ingestion \\(pid {proc.pid} on "):
            other.ingest()
        r = run_cli(["ingest"], tmp_path, cli_env(chroma_url=chroma_url, collection="srv-race"))
        rest = proc.communicate(timeout=300)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == 0, rest
    # The CLI's refusal is one clear line, no traceback; unless the first one had finished.
    if r.returncode != 0:
        assert r.stderr.startswith("error: Another ingestion") and "Traceback" not in r.stderr
    assert other.ingest().files_unchanged == 30  # exactly one full copy


@pytest.mark.slow
def test_killed_server_ingestion_is_repaired_at_once(chroma_url: str, tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus", 30, paragraphs=3)
    env = cli_env(
        chroma_url=chroma_url, collection="srv-kill", log_level="INFO", ingest_batch_chunks="16"
    )
    proc = start_cli(["ingest"], tmp_path, env)
    kill_when(proc, "indexed ", 0.2, timeout=180)
    client = raw_client(chroma_url)
    assert client.get_collection("srv-kill-lock").metadata["pid"] == proc.pid  # left behind
    # The dead owner ran on this machine, so the lease is taken over without waiting for it.
    r = run_cli(["ingest", "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert "taking over the ingestion lease" in r.stderr
    reference = Assistant(server_settings(chroma_url, "srv-kill-ref", tmp_path))
    reference.ingest()
    fresh = Assistant(server_settings(chroma_url, "srv-kill", tmp_path))
    ids = sorted(fresh.store.chunks.get(include=[])["ids"])
    assert ids == sorted(reference.store.chunks.get(include=[])["ids"])
    assert {r["source"] for r in fresh.store.doc_records().values()} == {
        p.name for p in (tmp_path / "corpus").iterdir()
    }
    assert all(m["hash"] != "pending" for m in fresh.store.doc_records().values())


@pytest.mark.slow
def test_two_servers_on_one_chroma_answer_alike(
    chroma_url: str, tmp_path: Path, corpus: Path
) -> None:
    import httpx

    from tests.support.servers import start_serve, stop, wait_http

    env = cli_env(chroma_url=chroma_url, collection="srv-two", corpus_dir=str(corpus))
    assert run_cli(["ingest"], tmp_path, env).returncode == 0
    procs, urls = [], []
    try:
        for _ in range(2):
            proc, url, _log = start_serve(tmp_path, env)
            procs.append(proc)
            urls.append(url)
        for url, proc in zip(urls, procs, strict=True):
            wait_http(f"{url}/health", 180, proc)  # type: ignore[arg-type]

        def ask(url: str, question: str) -> dict[str, Any]:
            r = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=120,
                           trust_env=False)  # fmt: skip
            assert r.status_code == 200, r.text
            body = r.json()
            body.pop("timings_ms"), body.pop("session_id")
            return dict(body)

        one, two = ask(urls[0], NATO_QUESTION), ask(urls[1], NATO_QUESTION)
        assert one == two and one["answered"]
        assert not ask(urls[1], FLOOD_QUESTION)["answered"]

        # An upload through server 1 (it takes the writer lease) is answerable on server 2.
        r = httpx.post(f"{urls[0]}/api/documents", timeout=300, trust_env=False,
                       files=[("files", ("flood.txt", FLOOD.encode()))])  # fmt: skip
        assert r.status_code == 201, r.text
        seen = ask(urls[1], FLOOD_QUESTION)
        assert seen["answered"] and {c["source"] for c in seen["citations"]} == {
            "uploads/flood.txt"
        }
        assert seen == ask(urls[0], FLOOD_QUESTION)
    finally:
        for proc in procs:
            stop(proc)  # type: ignore[arg-type]
