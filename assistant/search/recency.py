"""Relative time in questions ("this week", "last month", "recently"), read against ``as_of``.

A news question is asked at a moment: "which automaker recalled 2.9 million vehicles this
week?" means the week before the day it is asked, and a story published after that day cannot
be its answer. ``as_of`` is that moment (by default the newest document's date); the window a
question's wording points to becomes a soft preference in retrieval, never a filter.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from assistant.index.store import date_int

__all__ = ["Window", "date_prior", "default_window", "relative_window", "window_fit"]


@dataclass(frozen=True)
class Window:
    """Inclusive date range a question's wording refers to, and the phrase that said so."""

    start: date
    end: date
    phrase: str

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def distance(self, day: date) -> int:
        """Days outside the window (0 inside)."""
        if day < self.start:
            return (self.start - day).days
        return max(0, (day - self.end).days)


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _last_month(d: date) -> tuple[date, date]:
    year, month = (d.year, d.month - 1) if d.month > 1 else (d.year - 1, 12)
    return _month_bounds(year, month)


# Most specific first: "last week" must not be read as "last" + "week".
_RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"\btoday\b|\btonight\b|\bthis (?:morning|afternoon|evening)\b"), lambda d: (d, d)),
    (re.compile(r"\byesterday\b"), lambda d: (d - _days(1), d - _days(1))),
    (re.compile(r"\blast (?:week|weekend)\b"), lambda d: (d - _days(14), d - _days(3))),
    (
        re.compile(
            r"\bthis (?:past )?(?:week|weekend)\b|\b(?:past|last) (?:few|several|couple of) days\b"
            r"|\bthe past week\b|\bin recent days\b|\bearlier this week\b|\bthis week's\b"
        ),
        lambda d: (d - _days(7), d),
    ),
    (re.compile(r"\blast month\b"), _last_month),
    (
        re.compile(
            r"\bthis month\b|\bthe past month\b|\bin recent weeks\b|\bpast (?:few|two) weeks\b"
        ),
        lambda d: (d - _days(31), d),
    ),
    (re.compile(r"\blast year\b"), lambda d: (date(d.year - 1, 1, 1), date(d.year - 1, 12, 31))),
    (re.compile(r"\bthis year\b"), lambda d: (date(d.year, 1, 1), d)),
    (
        # News about what is coming ("soon", "next month") is written in the days before it.
        re.compile(
            r"\b(?:recently|recent|latest|newly|currently|so far|soon|upcoming"
            r"|next (?:week|month)|later this (?:week|month|year))\b"
        ),
        lambda d: (d - _days(14), d),
    ),
]


_YEAR = re.compile(r"\b(?:in|of|during|since)\s+((?:19|20)\d\d)\b")


def relative_window(question: str, as_of: date) -> Window | None:
    """The window the question's relative time points to, or None if it names none.

    A past year named as a time ("in 2015") is a window too: the question is about then.
    """
    text = question.lower().replace("’", "'")
    for pattern, bounds in _RULES:
        match = pattern.search(text)
        if match:
            start, end = bounds(as_of)  # type: ignore[operator]
            return Window(start, min(end, as_of), match.group())
    year = _YEAR.search(text)
    if year and int(year[1]) < as_of.year:
        y = int(year[1])
        return Window(date(y, 1, 1), date(y, 12, 31), year.group())
    return None


def default_window(as_of: date, days: int) -> Window:
    """For a question that names no time: news questions are mostly about the present."""
    return Window(as_of - timedelta(days=days), as_of, f"last {days} days")


def parse_iso(value: str | None) -> date | None:
    n = date_int(value)
    if not n:
        return None
    try:
        return date(n // 10000, n // 100 % 100, n % 100)
    except ValueError:
        return None


def window_fit(published: date | None, window: Window | None) -> float:
    """1 inside the window, fading to 0 over one more window length outside it; 0 for an
    undated document or no window."""
    if published is None or window is None:
        return 0.0
    span = max(1, (window.end - window.start).days + 1)
    return max(0.0, 1.0 - window.distance(published) / span)


def date_prior(
    score: float,
    published: date | None,
    as_of: date,
    window: Window | None,
    vote: float,
    future_penalty: float,
) -> float:
    """A candidate's fused score adjusted for its publication date.

    The window acts as one more ranked list in the reciprocal-rank fusion: a document inside
    it gains ``vote`` (in units of a first place in one list, the caller scales), so the
    date can lift a relevant story above an older one but not an irrelevant one above a
    relevant one. Published after ``as_of`` (not yet written when the question was asked):
    the score is cut by ``future_penalty``. Undated documents are neither.
    """
    if published is not None and published > as_of:
        score *= 1.0 - future_penalty
    return score + vote * window_fit(published, window)
