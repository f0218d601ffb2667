"""Every failure a user can be told about: one hierarchy, each with an HTTP status, a stable
code and a message written for the person reading it.

Front ends map ``AssistantError`` once each (the HTTP server to a JSON error with ``status``,
the CLI to one line on stderr, the web UI and Slack to a visible notice); anything else that
escapes is a bug, logged with its traceback and shown as a generic "internal error".
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error meant for the user. ``str(exc)`` is the user message."""

    status: int = 500
    code: str = "internal_error"
    # OpenAI's error "type", so the openai client reports our reasons as theirs.
    kind: str = "server_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def client_error(self) -> bool:
        """The request was wrong (4xx) rather than the server (5xx)."""
        return self.status < 500


# --- the request ------------------------------------------------------------------------------
class InvalidRequest(AssistantError, ValueError):
    """The question, a filter, a date or an id is unusable as given."""

    status = 422
    code = "invalid_request"
    kind = "invalid_request_error"


class EmptyQuestion(InvalidRequest):
    code = "empty_question"


class QuestionTooLong(InvalidRequest):
    status = 413
    code = "question_too_long"


class InvalidDate(InvalidRequest):
    code = "invalid_date"


class UploadRejected(InvalidRequest):
    """A file we refuse (type, size, name); ``status`` says which (415, 413, 422)."""

    code = "upload_rejected"


class NotFound(InvalidRequest):
    status = 404
    code = "not_found"


class DatasetError(InvalidRequest):
    """A benchmark folder or its files are missing or malformed (message says which)."""

    code = "invalid_dataset"


# --- the web ---------------------------------------------------------------------------------
class FetchFailed(AssistantError):
    """A page or feed could not be fetched or used; the message says why (refused address,
    robots.txt, HTTP status, timeout, size, not an article or not a feed)."""

    status = 502
    code = "fetch_failed"
    kind = "fetch_failed"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.http_status = http_status  # the remote server's answer, when there was one
        self.retry_after = retry_after  # seconds its Retry-After header asked for


class InvalidUrl(InvalidRequest, FetchFailed):
    """A URL that can't be fetched at all (not http(s), no host, credentials in it)."""

    code = "invalid_url"


# --- the index --------------------------------------------------------------------------------
class EmptyIndex(AssistantError):
    """Asked a question before anything was ingested."""

    status = 409
    code = "empty_index"
    kind = "empty_index"


class IndexBusy(AssistantError):
    """Another process is writing to the same index."""

    status = 409
    code = "index_busy"
    kind = "index_busy"


class IndexMismatch(AssistantError):
    """The index was built with settings that differ from the current ones."""

    status = 503
    code = "index_mismatch"
    kind = "index_mismatch"


class IndexUnavailable(AssistantError):
    """The index cannot be read or written (deleted, permissions, server down)."""

    status = 503
    code = "index_unavailable"
    kind = "index_unavailable"


# --- configuration and backends ---------------------------------------------------------------
class ConfigError(AssistantError, ValueError):
    """A setting, prompt template or credential is wrong; the message says how to fix it."""

    code = "config_error"


class LLMError(AssistantError, RuntimeError):
    """The LLM backend cannot be used."""

    status = 503
    code = "llm_unavailable"
    kind = "llm_unavailable"


class LLMNotInstalled(LLMError):
    """The backend's llama-index package (the `llm` extra) is not installed."""

    status = 500
    code = "llm_not_installed"


class LLMUnavailable(LLMError):
    """The LLM server is down, too slow, or answered with an error."""


__all__ = [
    "AssistantError",
    "ConfigError",
    "DatasetError",
    "EmptyIndex",
    "EmptyQuestion",
    "FetchFailed",
    "IndexBusy",
    "IndexMismatch",
    "IndexUnavailable",
    "InvalidDate",
    "InvalidRequest",
    "InvalidUrl",
    "LLMError",
    "LLMNotInstalled",
    "LLMUnavailable",
    "NotFound",
    "QuestionTooLong",
    "UploadRejected",
]
