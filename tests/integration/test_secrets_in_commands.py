"""Secrets (API token, UI password, LLM key, Slack tokens) never reach logs or error output:
the real commands, in subprocesses, logging at DEBUG level."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS
from tests.support.secrets import ALL_SECRETS, SECRETS, SLACK
from tests.support.servers import cli_env, free_port, run_cli, stop, wait_http


class _EchoingLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that refuses the key and echoes it back, as some do."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        key = self.headers.get("authorization", "").removeprefix("Bearer ")
        body = json.dumps(
            {"error": {"message": f"Incorrect API key provided: {key}", "type": "auth"}}
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echoing_llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def secret_env(**extra: str) -> dict[str, str]:
    env = cli_env(log_level="DEBUG", **SECRETS, **extra)
    env.update(SLACK)
    return env


def assert_clean(*outputs: str) -> None:
    for out in outputs:
        leaked = [s for s in ALL_SECRETS if s in out]
        assert not leaked, f"{leaked} in:\n{out[-3000:]}"


@pytest.mark.slow
def test_ingest_ask_and_errors_at_debug_level_leak_nothing(
    tmp_path: Path, echoing_llm: str
) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    runs = [
        run_cli(["ingest", "--index", "idx"], tmp_path, secret_env()),
        run_cli(["ask", NATO_QUESTION, "--json", "--index", "idx"], tmp_path, secret_env()),
        # The LLM refuses the key and echoes it: the fallback's notice and the logs say why.
        run_cli(
            ["ask", NATO_QUESTION, "--json", "--index", "idx"],
            tmp_path,
            secret_env(llm="openai", llm_base_url=echoing_llm, llm_model="m"),
        ),
        run_cli(
            ["ask", NATO_QUESTION, "--index", "idx"],
            tmp_path,
            secret_env(llm="openai", llm_base_url=echoing_llm, llm_model="m", llm_fallback="error"),
        ),
        run_cli(["ask", NATO_QUESTION, "--index", "empty"], tmp_path, secret_env()),
        run_cli(["settings"], tmp_path, secret_env()),
    ]
    codes = [r.returncode for r in runs]
    assert codes == [0, 0, 0, 1, 1, 0], [r.stderr[-2000:] for r in runs]
    assert "authentication failed" in runs[3].stderr and "is empty" in runs[4].stderr
    assert sum(r.stderr.count("DEBUG ") for r in runs) > 20  # the logs really were verbose
    assert_clean(*(r.stdout + r.stderr for r in runs))


@pytest.mark.slow
def test_the_server_log_leaks_no_token(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    assert run_cli(["ingest", "--index", "idx"], tmp_path, secret_env()).returncode == 0
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--index", "idx", "--port", str(port)],
        cwd=tmp_path,
        env=secret_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", 180, proc)  # type: ignore[arg-type]
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as c:
            token = SECRETS["api_token"]
            good = {"Authorization": f"Bearer {token}"}
            assert c.post("/api/ask", json={"question": NATO_QUESTION}).status_code == 401
            bad = {"Authorization": f"Bearer {token}x"}
            assert c.post("/api/ask", json={"question": "q?"}, headers=bad).status_code == 401
            r = c.post(
                f"/api/ask?api_token={token}", json={"question": NATO_QUESTION}, headers=good
            )
            assert r.status_code == 200
            assert_clean(r.text)
    finally:
        stop(proc)  # type: ignore[arg-type]
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "/api/ask?api_token=***" in text  # the access log line is there, cleaned
    assert_clean(text)
    assert os.environ.get("ASSISTANT_API_TOKEN") is None  # the test process was not touched
