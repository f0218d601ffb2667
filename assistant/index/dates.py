"""Publication dates: normalise the many ways dumps and pages write them, or find one in the text.

News questions are often told apart only by date ("the storm this week" vs. last year's), so a
document without a date metadata field still gets one when the text states it plainly, or when a
weekday next to a day and month pins down the year. Text-derived dates are flagged as inferred.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

__all__ = ["date_from_url", "find_date_in_text", "normalise_date"]

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# German, French, Spanish, Italian, Dutch and Portuguese months: datelines and metadata of
# European outlets. Only ever read beside a day and a year, where none is an ordinary word.
_EU_MONTHS = {
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "dezember": 12,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "settembre": 9, "ottobre": 10, "dicembre": 12,
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8,
    "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7,
    "setembro": 9, "outubro": 10, "novembro": 11, "dezembro": 12,
}  # fmt: skip
_ALL_MONTHS = {**_EU_MONTHS, **_MONTHS}
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
    "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip

# Longest alternatives first so "Sept" wins over "Sep" and "June" over "Jun".
_MONTH_ALT = "|".join(sorted((m.capitalize() for m in _MONTHS), key=len, reverse=True))
_WEEKDAY_FULL = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_WEEKDAY_ALT = _WEEKDAY_FULL + "|Thurs|Tues|Thur|Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"

# Text search is case-sensitive on purpose: "may", "march" and "sun" are ordinary words too.
_MDY = rf"\b(?P<m1>{_MONTH_ALT})\.?\s+(?P<d1>\d{{1,2}}){_ORD},?\s+(?P<y1>{_YEAR})\b"
_DMY = rf"\b(?P<d2>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<m2>{_MONTH_ALT})\.?,?\s+(?P<y2>{_YEAR})\b"
_ISO = r"\b(?P<y3>(?:19|20)\d\d)[-/](?P<m3>[01]?\d)[-/](?P<d3>[0-3]?\d)\b"
_EU_ALT = "|".join(sorted(_EU_MONTHS, key=len, reverse=True))
# "20. Februar 2024", "3 mars 2024", "5 de febrero de 2024", "1er juillet 2023"; and the
# dotted day-first numbers of German-speaking countries, "1.3.2024".
_EU = (
    rf"(?i:\b(?P<d4>\d{{1,2}})(?:\.|er|º|°)?\s+(?:de\s+)?(?P<m4>{_EU_ALT})\.?\s+"
    rf"(?:de\s+|del\s+)?(?P<y4>{_YEAR})\b)"
    rf"|\b(?P<d5>[0-3]?\d)\.(?P<m5>[01]?\d)\.(?P<y5>{_YEAR})\b"
)
_EXPLICIT_RE = re.compile(f"{_MDY}|{_DMY}|{_ISO}|{_EU}")

# A day and month without a year (a following year makes it an explicit date instead).
_DAY_MONTH = (
    rf"(?:\b(?P<dd>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<dm>{_MONTH_ALT})\b"
    rf"|\b(?P<md>{_MONTH_ALT})\.?\s+(?P<mdd>\d{{1,2}}){_ORD}\b)(?!\.?,?\s+{_YEAR}\b)"
)
_DAY_MONTH_RE = re.compile(_DAY_MONTH)
# Weekday directly beside its date: "Monday (27 November)", "Friday, November 25", "Fri. Nov 25".
_PAIR_RE = re.compile(rf"\b(?P<wd>{_WEEKDAY_ALT})\b\.?\s*,?\s*\(?\s*(?:the\s+)?(?:{_DAY_MONTH})")
# The weak rule pairs separate mentions, so only weekdays used as a time reference count.
_WEEKDAY_REF_RE = re.compile(
    rf"\b(?:on|last|this|since|until|by|from|early|late)\s+(?P<wd>{_WEEKDAY_FULL})\b"
)

_EXPLICIT_WINDOW = 2000
_PAIR_WINDOW = 2000
_WEAK_WINDOW = 1500
_MAX_YEARS_BACK = 30


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _from_timestamp(value: str) -> date | None:
    number = int(value)
    if len(value) == 13:  # milliseconds, as JavaScript exports write them
        number //= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def _numeric(first: int, second: int, year: int) -> date | None:
    # 05/06/2022 is ambiguous; a value above 12 settles it, otherwise US month-first wins
    # because US-style exports are the common case for English news dumps.
    if first > 12:
        return _make(year, second, first)
    return _make(year, first, second)


_D = r"(?P<d>\d{1,2})"
_MN = r"(?P<mn>[^\W\d_]+)"
_NORMALISE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^(?P<y>{_YEAR})[-/.](?P<m>\d{{1,2}})[-/.]{_D}(?:$|[T\s_])"), "ymd"),
    (re.compile(rf"^(?P<y>{_YEAR})(?P<m>[01]\d)(?P<d>[0-3]\d)(?:$|T)"), "ymd"),
    # dots are the day-first countries' way: 01.03.2024 is the first of March
    (re.compile(rf"^{_D}\.(?P<m>\d{{1,2}})\.(?P<y>{_YEAR})\b"), "dmy-numeric"),
    (re.compile(rf"^(?P<a>\d{{1,2}})[/.-](?P<b>\d{{1,2}})[/.-](?P<y>{_YEAR})\b"), "ab"),
    (re.compile(rf"(?i)\b{_MN}\.?\s+{_D}{_ORD},?\s+(?P<y>{_YEAR})\b"), "mdy"),
    (
        re.compile(
            rf"(?i)\b{_D}(?:{_ORD}|\.|er)[\s-]+(?:of\s+|de\s+)?{_MN}\.?,?[\s-]+"
            rf"(?:de\s+)?(?P<y>{_YEAR})\b"
        ),
        "dmy",
    ),  # fmt: skip
]


def normalise_date(value: str) -> str | None:
    """Return ``YYYY-MM-DD`` for a date written in any common way, or None if it isn't one.

    Accepts ISO dates with or without time and zone (the date is kept as written, not shifted
    to UTC: it is the publisher's local day), ``2022/06/12``, ``06/12/2022``, ``June 12, 2022``,
    ``Nov. 25, 2022``, ``25 November 2022``, RFC 2822 (``Fri, 25 Nov 2022 10:00:00 GMT``) and
    Unix timestamps in seconds or milliseconds.
    """
    text = str(value).strip()
    if not text or len(text) > 100:
        return None
    if text.isdigit() and len(text) in (10, 13):
        return _iso(_from_timestamp(text))
    for pattern, kind in _NORMALISE_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        year = int(match["y"])
        if kind == "ymd":
            return _iso(_make(year, int(match["m"]), int(match["d"])))
        if kind == "dmy-numeric":
            return _iso(_make(year, int(match["m"]), int(match["d"])))
        if kind == "ab":
            return _iso(_numeric(int(match["a"]), int(match["b"]), year))
        month = _ALL_MONTHS.get(match["mn"].lower())
        if month is not None:
            return _iso(_make(year, month, int(match["d"])))
    return None


def date_from_url(url: str) -> str | None:
    """A date in a news URL path (``/2022/06/12/``, ``/2022-06-12-``), set when it was published."""
    match = re.search(r"/((?:19|20)\d\d)[/-]([01]\d)[/-]([0-3]\d)(?:[/-]|$)", url or "")
    if not match:
        return None
    return _iso(_make(int(match[1]), int(match[2]), int(match[3])))


def _explicit(text: str, today: date) -> str | None:
    for match in _EXPLICIT_RE.finditer(text[:_EXPLICIT_WINDOW]):
        if match["y1"]:
            found = _make(int(match["y1"]), _MONTHS[match["m1"].lower()], int(match["d1"]))
        elif match["y2"]:
            found = _make(int(match["y2"]), _MONTHS[match["m2"].lower()], int(match["d2"]))
        elif match["y4"]:
            found = _make(int(match["y4"]), _EU_MONTHS[match["m4"].lower()], int(match["d4"]))
        elif match["y5"]:
            found = _make(int(match["y5"]), int(match["m5"]), int(match["d5"]))
        else:
            found = _make(int(match["y3"]), int(match["m3"]), int(match["d3"]))
        # A date after today is a deadline or a schedule, not when the piece was published.
        if found and found <= today:
            return found.isoformat()
    return None


def _day_month(match: re.Match[str]) -> tuple[int, int]:
    if match["dd"]:
        return int(match["dd"]), _MONTHS[match["dm"].lower()]
    return int(match["mdd"]), _MONTHS[match["md"].lower()]


def _year_for(weekday: int, day: int, month: int, today: date) -> str | None:
    """The most recent date on or before this year's end with that day, month and weekday."""
    for year in range(today.year, today.year - _MAX_YEARS_BACK, -1):
        candidate = _make(year, month, day)
        if candidate and candidate.weekday() == weekday:
            return candidate.isoformat()
    return None


def find_date_in_text(text: str, today: date | None = None) -> tuple[str | None, bool]:
    """Find when a news text was written: ``(iso_date, inferred)``.

    An explicit full date near the top wins (``inferred`` False). Otherwise a weekday stated
    with a day and month ("on Monday (27 November)", "Friday, November 25") gives the latest
    year, up to ``today``'s, in which that day falls on that weekday. Failing that, the first
    "on <weekday>" is paired with the first day-month mention near the top; that is weaker
    evidence but still flagged the same way (``inferred`` True).
    """
    today = today or date.today()
    explicit = _explicit(text, today)
    if explicit:
        return explicit, False
    for match in _PAIR_RE.finditer(text[:_PAIR_WINDOW]):
        day, month = _day_month(match)
        found = _year_for(_WEEKDAYS[match["wd"].lower()], day, month, today)
        if found:
            return found, True
    head = text[:_WEAK_WINDOW]
    weekday = _WEEKDAY_REF_RE.search(head)
    day_month = _DAY_MONTH_RE.search(head)
    if weekday and day_month:
        day, month = _day_month(day_month)
        found = _year_for(_WEEKDAYS[weekday["wd"].lower()], day, month, today)
        if found:
            return found, True
    return None, False
