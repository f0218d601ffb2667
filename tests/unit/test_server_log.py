"""The server log is readable: what the watcher brought in, and uvicorn's access lines, which
its formatter builds from the record's arguments (redaction must leave those usable)."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from assistant.logs import SecretRedactor


def test_access_lines_survive_redaction() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/feeds", "1.1", 200), None,
    )  # fmt: skip
    SecretRedactor(["s3cret-token"]).filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert line == '127.0.0.1:5000 - "GET /api/feeds HTTP/1.1" 200 OK'


def test_a_secret_in_an_argument_is_still_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/x?key=s3cret-token", "1.1", 200), None,
    )  # fmt: skip
    SecretRedactor(["s3cret-token"]).filter(record)
    assert "s3cret-token" not in record.getMessage()
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert line == '127.0.0.1:5000 - "GET /x?key=*** HTTP/1.1" 200 OK'
