"""`--log-format json`: one JSON object per line (time, level, logger, message, request_id),
with the same redaction as the text logs. (`assistant serve` writing them:
tests/integration/test_json_logs.py.)"""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import assistant.logs as logs

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
