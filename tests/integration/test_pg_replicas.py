"""Two `assistant serve` processes on one database and one Chroma server behave as one: the
same answers, a conversation continued on either, an upload through one answerable on the
other with its very next request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS
from tests.support.servers import cli_env, free_port, run_cli, stop, wait_http

FLOOD = """Flood Warning Issued for River Town

The river authority said on Tuesday, March 7, 2023 that the Wendle river would crest above
flood stage. Residents near the embankment were told to move valuables upstairs.
The mayor said emergency shelters would open at the Wendle stadium and the community hall.
"""
FLOOD_QUESTION = "Where will the emergency shelters open in the Wendle flood?"


@pytest.mark.slow
def test_two_replicas_answer_as_one(database_url: str, chroma_url: str, tmp_path: Path) -> None:
    import httpx

    env = cli_env(
        database_url=database_url,
        chroma_url=chroma_url,
        collection="replicas",
        corpus_dir=str(SAMPLE_CORPUS),
        index_dir=str(tmp_path / "unused-index"),
    )
    r = run_cli(["ingest"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for n in range(2):
            port = free_port()
            with (tmp_path / f"serve-{n}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
                        cwd=tmp_path,
                        # Each its own disk, as on two machines: only the servers are shared.
                        env={**env, "ASSISTANT_CORPUS_DIR": str(tmp_path / f"corpus-{n}")},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            wait_http(f"{url}/health", 180, proc)

        def ask(url: str, question: str, session: str | None = None) -> dict[str, Any]:
            body: dict[str, Any] = {"question": question}
            if session:
                body["session_id"] = session
            r = httpx.post(f"{url}/api/ask", json=body, timeout=120, trust_env=False)
            assert r.status_code == 200, r.text
            return dict(r.json())

        def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
            drop = ("timings_ms", "session_id")
            return {k: v for k, v in a.items() if k not in drop} == {
                k: v for k, v in b.items() if k not in drop
            }

        one, two = ask(urls[0], NATO_QUESTION), ask(urls[1], NATO_QUESTION)
        assert one["answered"] and same(one, two)

        # A conversation begun on one replica continues on the other.
        follow = ask(urls[1], "And what did he say about China?", session=one["session_id"])
        assert (
            "following: What support did NATO pledge to Ukraine?" in (follow["standalone_question"])
        )
        assert follow["session_id"] == one["session_id"]

        # An upload through replica 0 (its own upload folder) is answerable on replica 1 with
        # its next request: no rebuild, no waiting.
        assert not ask(urls[1], FLOOD_QUESTION)["answered"]
        upload = httpx.post(
            f"{urls[0]}/api/documents",
            files=[("files", ("flood.txt", FLOOD.encode()))],
            timeout=300,
            trust_env=False,
        )
        assert upload.status_code == 201, upload.text
        answers = [ask(url, FLOOD_QUESTION) for url in reversed(urls)]  # the other one first
        for seen in answers:
            cited = {c["source"] for c in seen["citations"]}
            assert seen["answered"] and cited == {"uploads/flood.txt"}
        assert same(*answers)
        health = [httpx.get(f"{u}/health", trust_env=False).json() for u in urls]
        assert health[0]["documents"] == health[1]["documents"] == 3
    finally:
        for proc in procs:
            stop(proc)
