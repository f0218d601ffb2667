"""`--log-format json`: one JSON object per line (time, level, logger, message, request_id),
with the same redaction as the text logs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS
from tests.support.servers import cli_env, free_port, run_cli, stop, wait_http

SECRET = "tok-Json-5e4d3c2b1a"


@pytest.mark.slow
def test_serve_writes_json_lines_with_request_ids(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    env = cli_env(api_token=SECRET)
    assert run_cli(["ingest", "--index", "idx"], tmp_path, env).returncode == 0
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--index", "idx", "--port", str(port)]
        + ["--log-format", "json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", 180, proc)  # type: ignore[arg-type]
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as c:
            auth = {"Authorization": f"Bearer {SECRET}", "X-Request-ID": "ask-1"}
            r = c.post(f"/api/ask?t={SECRET}", json={"question": NATO_QUESTION}, headers=auth)
            assert r.status_code == 200 and r.headers["x-request-id"] == "ask-1"
            r = c.get("/api/documents", headers={"X-Request-ID": "nobody-2"})
            assert r.status_code == 401
    finally:
        stop(proc)  # type: ignore[arg-type]
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert SECRET not in text
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
    access = {r["request_id"]: r for r in records if r["logger"] == "uvicorn.access"}
    assert '"POST /api/ask?t=*** HTTP/1.1" 200' in access["ask-1"]["message"]
    assert '"GET /api/documents HTTP/1.1" 401' in access["nobody-2"]["message"]
    assert any("Uvicorn running on" in r["message"] for r in records)
