"""Logging for the command-line tools and the server, with secrets redacted from every record.

Redaction hooks the log-record factory rather than a handler: every record any library creates
(uvicorn, httpx, chromadb, slack-sdk ...) is cleaned once, before any handler or formatter
sees it, whichever handlers are configured later (uvicorn replaces them). Exception tracebacks
are formatted and cleaned at the same moment, because exception messages carry secrets too
(a URL with credentials, an echoed header).

What counts as a secret: the values of the settings in ``SECRET_FIELDS``, the value of every
environment variable whose name ends in TOKEN, SECRET, PASSWORD, PASSWD or KEY (so Slack and
LLM credentials are covered whatever they are called), and anything shaped like a Slack token,
an OpenAI-style key or a bearer credential. Values shorter than ``MIN_SECRET_CHARS`` are not
searched for: they would blank out ordinary words in every line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the HTTP request being served (set by the server's middleware), in JSON log lines.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

REDACTED = "***"
MIN_SECRET_CHARS = 4
_SECRET_ENV_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|KEY)$", re.IGNORECASE)
_SHAPES = (
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"),  # Slack bot/user/app-level tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style API keys
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),
)


class SecretRedactor(logging.Filter):
    """Replaces known secret values (and secret-shaped strings) in log records with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        with self._lock:
            known = set(self._secrets)
            known.update(v for v in values if v and len(v) >= MIN_SECRET_CHARS)
            # Longest first, so a secret containing another is replaced whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for shape in _SHAPES:
            text = shape.sub(REDACTED, text)
        return text

    def _clean_arg(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, (int, float)):
            return value  # numbers keep their type: "%d" must still format them
        text = str(value)
        cleaned = self.redact(text)
        return value if cleaned == text else cleaned

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, cleaned
            record.msg, record.args = self.redact(f"{record.msg} {record.args}"), ()
            message = None
        if message is not None:
            self._clean_parts(record, self.redact(message))
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            # The traceback is kept as cleaned text only: formatters print exc_text as is.
            record.exc_text, record.exc_info = self.redact(text), None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def _clean_parts(self, record: logging.LogRecord, clean: str) -> None:
        """Clean a record's format string and arguments in place, keeping them apart: some
        formatters build the line from the arguments (uvicorn's access formatter unpacks the
        client, method, path and status). Only when that would still show a secret (one split
        across two arguments) do message and arguments become the cleaned text, with an empty
        tuple of arguments, never None, so every formatter can still format the record."""
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(self._clean_arg(a) for a in args)
        elif isinstance(args, Mapping):
            record.args = {k: self._clean_arg(v) for k, v in args.items()}
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        try:
            kept = record.getMessage() == clean
        except Exception:
            kept = False
        if not kept:
            record.msg, record.args = clean, ()
            record.__dict__.pop("color_message", None)  # uvicorn's: a format for the args


_redactor = SecretRedactor()
_installed = False
_install_lock = threading.Lock()


def redactor() -> SecretRedactor:
    """The process-wide redactor (also used for error messages printed by the CLI)."""
    return _redactor


def redact(text: str) -> str:
    return _redactor.redact(text)


def secrets_from_env(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [value for name, value in env.items() if _SECRET_ENV_NAME.search(name) and value]


def secrets_from_settings(settings: Any) -> list[str]:
    values = list(settings.secrets())
    key = settings.llm.key()
    if key:
        values.append(key)
    return [str(v) for v in values]


def install_redaction(settings: Any = None) -> SecretRedactor:
    """Clean every log record of this process from now on (idempotent; call again with the
    settings once they are loaded to add their secrets)."""
    global _installed
    _redactor.add(*secrets_from_env())
    if settings is not None:
        _redactor.add(*secrets_from_settings(settings))
    with _install_lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _redactor.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = True
    return _redactor


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, and
    the traceback as ``exception`` when there is one. Records arrive already redacted (the
    record factory cleans them), tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(log_format: str = "text") -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str = "WARNING", settings: Any = None, log_format: str = "") -> None:
    """Redaction on, and one stderr handler on the root logger at ``level``, writing text or
    JSON lines (``log_format``; default: the settings' ``log_format``, else text)."""
    install_redaction(settings)
    if not log_format:
        log_format = settings.server.log_format if settings is not None else "text"
    root = logging.getLogger()
    if not any(getattr(h, "_assistant", False) for h in root.handlers):
        handler = _StderrHandler()
        handler._assistant = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Some libraries (bm25s) set their own loggers to DEBUG; the handler holds the line too.
    for h in root.handlers:
        if getattr(h, "_assistant", False):
            h.setLevel(level.upper())
            h.setFormatter(formatter(log_format))


# What a browser fetches to draw the page: hundreds of lines a session that say nothing.
_ASSET_PREFIXES = ("/assets/", "/static/", "/gradio_api/file=", "/file=", "/theme.css",
                   "/favicon", "/manifest.json", "/svelte/", "/custom_component/")  # fmt: skip
_ASSET_SUFFIXES = (".js", ".css", ".woff", ".woff2", ".ttf", ".svg", ".png", ".ico", ".map")


class QuietAssets(logging.Filter):
    """Access lines of static files that were served (2xx, 304) only at DEBUG; errors and
    everything else stay at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) < 5:
            return True
        method, path, status = args[1], str(args[2]), args[4]
        if method not in ("GET", "HEAD") or not (
            path.startswith(_ASSET_PREFIXES) or path.split("?", 1)[0].endswith(_ASSET_SUFFIXES)
        ):
            return True
        served = isinstance(status, int) and (200 <= status < 300 or status == 304)
        return not served or logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's logging configuration: its own for text, or JSON lines (its access lines
    then carry the request id); static files' access lines below INFO either way."""
    quiet = {"assets": {"()": "assistant.logs.QuietAssets"}}
    if log_format != "json":
        import copy

        from uvicorn.config import LOGGING_CONFIG

        config = copy.deepcopy(LOGGING_CONFIG)
        config["filters"] = quiet
        config["handlers"]["access"]["filters"] = ["assets"]
        return config
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": quiet,
        "formatters": {"json": {"()": "assistant.logs.JsonFormatter"}},
        "handlers": {"default": handler, "access": {**handler, "filters": ["assets"]}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def show_info(*names: str, log_format: str = "text") -> None:
    """INFO records of these loggers reach stderr whatever the configured level (what a
    watching server fetched and ingested is its news, not debugging), in the server's
    ``log_format`` (a JSON log with text lines in it breaks every collector reading it)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(getattr(h, "_assistant_info", False) for h in logger.handlers):
            handler = _StderrHandler()
            handler._assistant_info = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        for h in logger.handlers:
            if getattr(h, "_assistant_info", False):
                h.setFormatter(formatter(log_format))
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.propagate = False  # the root handler would print its warnings a second time
