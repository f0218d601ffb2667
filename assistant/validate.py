"""What the core accepts from any front end: questions, dates, filters, ids, depths.

Front ends pass what the user typed; these checks turn it into clean values or raise an
``InvalidRequest`` whose message names the field, so the CLI, the APIs, the web UI and Slack
refuse the same input with the same words.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.errors import (
    EmptyQuestion,
    InvalidDate,
    InvalidRequest,
    InvalidUrl,
    QuestionTooLong,
)
from assistant.index.dates import normalise_date
from assistant.types import Filters

MAX_TOP_K = 100
MAX_SOURCES = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters other than tab and newline say nothing and break some tokenizers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def clean_text(text: str) -> str:
    """``text`` without lone surrogates (JSON can carry them; UTF-8 and the tokenizers cannot)
    and control characters."""
    return _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", text))


def question(text: Any, limit: int) -> str:
    if not isinstance(text, str):
        raise InvalidRequest("the question must be text")
    text = clean_text(text).strip()
    if not text:
        raise EmptyQuestion("the question is empty")
    if len(text) > limit:
        raise QuestionTooLong(f"the question is {len(text)} characters long; the limit is {limit}")
    return text


def url(value: str) -> str:
    """``value`` unchanged, or ``InvalidUrl`` if it holds lone surrogates: JSON can carry them,
    but no request, log line or reply can encode them, and replacing them would fetch or follow
    a URL other than the one given."""
    if _SURROGATE.search(value):
        raise InvalidUrl("the URL contains a lone surrogate (\\ud800-\\udfff), which is not text")
    return value


def iso_date(value: Any, name: str) -> str | None:
    """``value`` as YYYY-MM-DD (None stays None); ``name`` is how the user wrote the field."""
    if value is None or value == "":
        return None
    iso = normalise_date(clean_text(str(value))) if isinstance(value, str) else None
    if iso is None:
        raise InvalidDate(f"{name} {value!r} is not a date (use YYYY-MM-DD)")
    return iso


def filters(value: Filters | dict[str, Any] | None, prefix: str = "filters.") -> Filters | None:
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = set(value) - {"since", "until", "sources"}
        if unknown:
            raise InvalidRequest(f"unknown filter {', '.join(sorted(unknown))}")
        value = Filters(
            since=value.get("since"), until=value.get("until"), sources=value.get("sources") or []
        )
    since = iso_date(value.since, f"{prefix}since")
    until = iso_date(value.until, f"{prefix}until")
    if since and until and since > until:
        raise InvalidDate(f"{prefix}since is after {prefix}until")
    sources = value.sources
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise InvalidRequest(f"{prefix}sources must be a list of source ids")
    if len(sources) > MAX_SOURCES:
        raise InvalidRequest(
            f"{prefix}sources lists {len(sources)} ids; the limit is {MAX_SOURCES}"
        )
    # exclude_docs comes only from Python callers (an evaluation leaving out gold articles);
    # the HTTP API's filter objects do not accept it.
    exclude = value.exclude_docs
    if not isinstance(exclude, list) or not all(isinstance(d, str) for d in exclude):
        raise InvalidRequest(f"{prefix}exclude_docs must be a list of document ids")
    return Filters(
        since=since, until=until, sources=[clean_text(s) for s in sources], exclude_docs=exclude
    )


def top_k(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise InvalidRequest(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    return value


def session_id(value: Any) -> str:
    if not isinstance(value, str) or not _SESSION_ID.match(value):
        raise InvalidRequest("session_id must be 1-64 characters of letters, digits, '-' or '_'")
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def duration(value: Any, name: str = "interval", low: float = 1, high: float = 7 * 86400) -> float:
    """Seconds from a number or text such as "90", "30s", "15m", "2h", "1d"."""
    if isinstance(value, bool):
        raise InvalidRequest(f"{name} must be a duration such as 30s, 15m or 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise InvalidRequest(f"{name} {value!r} is not a duration (use e.g. 30s, 15m or 2h)")
        seconds = float(match[1]) * _UNIT_SECONDS[(match[2] or "s").lower()]
    if not low <= seconds <= high:
        raise InvalidRequest(f"{name} must be from {low:g} s to {high / 86400:g} days")
    return seconds
