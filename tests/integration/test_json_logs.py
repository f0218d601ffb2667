"""`--log-format json`: one JSON object per line (time, level, logger, message, request_id),
with the same redaction as the text logs."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

import assistant.logs as logs
from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS
from tests.support.servers import cli_env, free_port, run_cli, stop, wait_http

SECRET = "tok-Json-5e4d3c2b1a"


def test_a_record_is_one_redacted_json_line() -> None:
    logs.install_redaction()
    logs.redactor().add(SECRET)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter("json"))
    log = logging.getLogger("tests.json")
    log.addHandler(handler)
    log.propagate = False
    token = logs.request_id.set("req-42")
    try:
        log.warning("calling %s with %s", "http://llm.local/v1", SECRET)
        try:
            raise RuntimeError(f"refused key {SECRET}\nsecond line")
        except RuntimeError:
            log.exception("it failed")
    finally:
        logs.request_id.reset(token)
        log.removeHandler(handler)
    log.info("outside a request")  # filtered by level; nothing written
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the traceback stays inside its line
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "request_id"}
    assert first["message"] == "calling http://llm.local/v1 with ***"
    assert first["level"] == "WARNING" and first["logger"] == "tests.json"
    assert first["request_id"] == "req-42"
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None
    assert "RuntimeError: refused key ***" in second["exception"]
    assert SECRET not in out.getvalue()


def test_text_stays_the_default() -> None:
    assert not isinstance(logs.formatter(), logs.JsonFormatter)
    assert isinstance(logs.formatter("json"), logs.JsonFormatter)


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
