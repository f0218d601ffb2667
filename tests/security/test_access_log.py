"""Finding 5 (medium): redaction keeps every library's log records formattable; `assistant
serve` run as the README says prints one clean access line per request, no traceback, no
secret."""

from __future__ import annotations

import io
import logging
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from uvicorn.logging import AccessFormatter

import assistant.logs as logs
from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS
from tests.support.security import PASSWORD, TOKEN
from tests.support.servers import cli_env, run_cli, start_serve, wait_http

ACCESS = re.compile(r'INFO: +127\.0\.0\.1:\d+ - "(\w+) (\S+) HTTP/1\.1" (\d{3})')


@pytest.fixture
def fresh_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[logs.SecretRedactor]:
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logs, "_redactor", logs.SecretRedactor())
    monkeypatch.setattr(logs, "_installed", False)
    yield logs.install_redaction()
    logging.setLogRecordFactory(factory)


def test_uvicorn_access_records_stay_formattable(fresh_redaction: logs.SecretRedactor) -> None:
    fresh_redaction.add(TOKEN)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    logger = logging.getLogger("uvicorn.access.test")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/api/ask?api_token={TOKEN}",
            "1.1",
            200,
        )
        # A record whose message a library formats itself from a dict of values.
        logger.info("%(who)s said %(what)s", {"who": "x", "what": TOKEN})
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert '127.0.0.1:5000 - "GET /api/ask?api_token=*** HTTP/1.1" 200' in text
    assert TOKEN not in text and "Logging error" not in text


def test_serve_prints_one_clean_access_line_per_request(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    env = cli_env(api_token=TOKEN, ui_password=PASSWORD)
    assert run_cli(["ingest"], tmp_path, env).returncode == 0
    proc, url, log_path = start_serve(tmp_path, env)
    try:
        wait_http(f"{url}/health", 180, proc)  # type: ignore[arg-type]
        sent = []
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as c:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            for method, path, kw in [
                ("GET", "/health", {}),
                ("POST", "/api/ask", {"json": {"question": NATO_QUESTION}}),
                ("POST", "/api/ask", {"json": {"question": NATO_QUESTION}, "headers": auth}),
                ("GET", f"/api/documents?api_token={TOKEN}", {"headers": auth}),
                ("GET", "/v1/models", {"headers": auth}),
                ("GET", "/config", {"headers": auth}),
            ]:
                r = c.request(method, path, **kw)
                sent.append((method, path.replace(TOKEN, "***"), str(r.status_code)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    text = log_path.read_text()
    lines = [m.groups() for m in ACCESS.finditer(text)]
    # The readiness polls of /health come first; every request after them has its line.
    assert lines[-len(sent) :] == sent, text[-4000:]
    assert all(path == "/health" for _, path, _ in lines[: -len(sent)])
    assert "Logging error" not in text and "Traceback" not in text, text[-4000:]
    assert TOKEN not in text and PASSWORD not in text
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
