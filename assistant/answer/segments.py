"""Citable units of a stored document: sentences, with quotations kept whole and the page's
furniture (datelines, kickers, subheadings, captions, bylines) split off first.

A sentence inside a multi-sentence quotation is only honest with the quotation's opening
mark: the unit runs from the sentence that opens the quotation to the one that closes it.
A quotation that stays open to the end of its paragraph (news style for a quote continued in
the next one) gives no citable unit at all, rather than half a quotation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.text import sentence_spans, words

CITABLE = frozenset({"sentence", "quote"})
MAX_UNIT_WORDS = 110

# "Colombo, Sri Lanka CNN —", "New York (CNN Business)", "WASHINGTON (AP) —" at a line's start.
_DATELINE = re.compile(
    r"^(?:[A-Z][\w.'’-]*(?:[ ,]+[A-Z][\w.'’-]*){0,5}[ ,]*)?"
    r"(?:\((?:CNN|AP|Reuters|AFP)[^)]{0,30}\)|CNN(?: Business)?)\s*(?:[—–-]+\s*)?"
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAY = rf"(?:\d{{1,2}} {_MONTH}(?:,? \d{{4}})?|{_MONTH} \d{{1,2}}(?:,? \d{{4}})?|\d{{4}}-\d\d-\d\d)"
# "Port Quill, 14 May 2024 —", "LONDON, May 14 (Reuters) -", "KYIV, Ukraine —": a place (a
# capitalised name with a date, or in capitals) then a dash, at a line's start.
_DATED_PLACE = re.compile(
    rf"^(?:[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){{0,3}}(?:, [A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){{0,2}})?"
    rf",? {_DAY}|[A-Z][A-Z.'’-]{{2,}}(?: [A-Z][A-Z.'’-]+){{0,2}}(?:, [A-Z][\w.'’-]*){{0,2}}"
    rf"(?:,? {_DAY})?)(?: \([^)]{{1,30}}\))? ?[—–-]+ ?"
)
_DASH_LINE = re.compile(r"^[^.!?]{1,60}\s[—–]\s*$")
# A photo caption ends with its credit: "Kirill Kudryavtsev/AFP/Getty Images", "(Name/Reuters)".
_CREDIT = re.compile(
    r"(?:\((?:Photo|Credit|Image)?[^()]{2,80}/[^()]{2,60}\)(?: [A-Z][\w ]{0,30})?"
    r"|[.!?)] (?:[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3}/)+[A-Z][\w.&'’ -]*"
    r"|[.!?] (?:Getty Images|AP Photo|Shutterstock|Reuters|AP))\s*$"
)
# "Increase in “non-lethal support”: Stoltenberg said ..." -- a kicker glued to a sentence.
_KICKER = re.compile(r"^([A-Z“\"‘][^:.!?]{1,70}):\s+(?=[A-Z“\"‘])")
_SPEECH = re.compile(
    r"\b(?:said|says|say|added|adds|told|tells|wrote|writes|stated|states|warned|asked|"
    r"explained|noted|announced|tweeted|declared|reads|read|follows)\W*$",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^[–—-]\s*\S.*\b(?:contributed|reported|reporting)\b", re.IGNORECASE)
_LABEL = re.compile(r"^(?:READ|RELATED|WATCH|LISTEN|MORE|SEE|PHOTOS|VIDEO)\b[^:]{0,20}:", re.I)
_END = re.compile(r"[.!?…][\"'”’)\]]*$|[\"”’)\]]$")


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    kind: str  # sentence | quote | heading | dateline | kicker | caption | byline | open_quote

    @property
    def citable(self) -> bool:
        return self.kind in CITABLE


def _typeset(text: str) -> str:
    """Two apostrophes typed for one double mark count as that mark."""
    return text.replace("’’", "”").replace("‘‘", "“").replace("''", '"')


QuoteState = tuple[int, int, bool, bool]


def quote_state(text: str, state: QuoteState = (0, 0, False, False)) -> QuoteState:
    """(open curly doubles, open curly singles, straight double open, a double closed with
    none open) after reading ``text``. A curly ’ closes a ‘ only when one is open: otherwise
    it is an apostrophe. A closing ” with nothing open drives the first number below zero and
    sets the last flag, which stays set: such a text never balances."""
    dbl, sgl, straight, broken = state
    for ch in _typeset(text):
        if ch == "“":
            dbl += 1
        elif ch == "”":
            broken = broken or dbl == 0
            dbl -= 1
        elif ch == '"':
            straight = not straight
        elif ch == "‘":
            sgl += 1
        elif ch == "’" and sgl > 0:
            sgl -= 1
    return dbl, sgl, straight, broken


def quotes_balanced(text: str) -> bool:
    """Whether every quotation mark in ``text`` that opens is closed, and none closes unopened."""
    return quote_state(text) == (0, 0, False, False)


def _is_heading(line: str) -> bool:
    """A line that does not end as a sentence does (a title, a subheading, a label)."""
    return not _END.search(line) and len(words(line)) <= 30


def _line_units(text: str, a: int, b: int) -> list[Unit]:
    """The units of one line ``text[a:b]`` (no newline inside)."""
    line = text[a:b]
    out: list[Unit] = []
    if _BYLINE.match(line):
        return [Unit(a, b, "byline")]
    if _CREDIT.search(line):
        return [Unit(a, b, "caption")]
    if _DASH_LINE.match(line) or (_LABEL.match(line)):
        return [Unit(a, b, "dateline" if _DASH_LINE.match(line) else "heading")]
    if _is_heading(line):
        return [Unit(a, b, "heading")]
    m = _DATELINE.match(line)
    if not (m and m.end() > 0):
        m = _DATED_PLACE.match(line)
    if m and m.end() > 0 and m.end() < len(line) and line[m.end()].isupper():
        out.append(Unit(a, a + m.end(), "dateline"))
        a += m.end()
        line = text[a:b]
    m = _KICKER.match(line)
    if m and len(words(m.group(1))) <= 8 and not _SPEECH.search(m.group(1)):
        out.append(Unit(a, a + len(m.group(1)) + 1, "kicker"))
        a += m.end()
    spans = sentence_spans(text, a, b)
    i = 0
    while i < len(spans):
        s, e = spans[i]
        state = quote_state(text[s:e])
        j = i
        # A quotation still open at the sentence's end runs on: the unit runs with it.
        while (state[0] > 0 or state[2]) and j + 1 < len(spans):
            j += 1
            state = quote_state(text[spans[j - 1][1] : spans[j][1]], state)
        e = spans[j][1]
        unit_text = text[s:e]
        if not quotes_balanced(unit_text) or len(words(unit_text)) > MAX_UNIT_WORDS:
            kind = "open_quote"
        else:
            kind = "quote" if j > i else "sentence"
        out.append(Unit(s, e, kind))
        i = j + 1
    return out


@lru_cache(maxsize=512)
def _document_units(text: str) -> tuple[Unit, ...]:
    out: list[Unit] = []
    pos = 0
    for line in text.split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        lead = len(line) - len(line.lstrip())
        a, b = a + lead, a + len(line.rstrip()) if line.strip() else a
        if b > a:
            out.extend(_line_units(text, a, b))
    return tuple(out)


def document_units(text: str) -> tuple[Unit, ...]:
    """Every unit of a document's stored text, in order; offsets index ``text``."""
    return _document_units(text)


def units_in(text: str, start: int, end: int) -> list[Unit]:
    """The units of ``text`` whose first character lies in ``[start, end)``."""
    return [u for u in document_units(text) if start <= u.start < end]
