"""The server log a newsroom reads (issue 22): one line per question (outcome, timings,
request id; never the question), and the browser's static files below INFO."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest

from assistant.app import Assistant
from assistant.logs import QuietAssets, request_id, uvicorn_log_config
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION


def access(path: str, status: int = 200, method: str = "GET") -> logging.LogRecord:
    # uvicorn's access record: (client, method, path, http version, status)
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50412", method, path, "1.1", status), None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "status", "method", "shown"),
    [
        ("/assets/index-4f2a.js", 200, "GET", False),
        ("/theme.css", 304, "GET", False),
        ("/gradio_api/file=/tmp/gradio/a.png", 200, "GET", False),
        ("/assets/missing.js", 404, "GET", True),  # an error is news
        ("/api/ask", 200, "POST", True),
        ("/gradio_api/queue/join", 200, "POST", True),
        ("/", 200, "GET", True),
    ],
)
def test_static_files_are_below_info(path: str, status: int, method: str, shown: bool) -> None:
    assert QuietAssets().filter(access(path, status, method)) is shown


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_servers_access_log_leaves_assets_out(log_format: str) -> None:
    config = uvicorn_log_config(log_format)
    out = io.StringIO()
    logging.config.dictConfig(config)
    logger = logging.getLogger("uvicorn.access")
    for h in logger.handlers:
        h.stream = out  # type: ignore[attr-defined]
    try:
        for path in ("/assets/index.js", "/api/ask"):
            logger.handle(access(path))
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    text = out.getvalue()
    assert "/api/ask" in text and "/assets/index.js" not in text


def test_one_line_per_question_with_outcome_timings_and_request_id(
    sample_assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="assistant.questions")
    token = request_id.set("req-7f3a")
    try:
        sample_assistant.ask(NATO_QUESTION)
        sample_assistant.ask(TAIWAN_QUESTION)
    finally:
        request_id.reset(token)
    lines = [r.getMessage() for r in caplog.records if r.name == "assistant.questions"]
    assert len(lines) == 2
    assert lines[0].startswith("question answered in ") and lines[1].startswith(
        "question refused in "
    )
    assert all("retrieve" in ln and "[request req-7f3a]" in ln for ln in lines)
    assert not any("NATO" in ln or "Taiwan" in ln for ln in lines)  # never the question
