"""Answers and documents for people at a terminal, rendered with rich.

Text wraps at word boundaries to the console's width (the COLUMNS variable when set, else the
terminal's, else 80: rich's rule). On a terminal, markers, titles and the sources heading are
bold and quotes are italic; piped (or with ``plain``) the output is the same text without any
escape sequence. Lines never end in padding spaces, so piped output diffs and greps cleanly.

The sources list shows each quote shortened (the answer already holds it in full); the stored
text of a cited document, with its quotes marked, is ``render_document``'s job
(`assistant open N`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import IO, Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

from assistant.types import Answer, Citation, answer_phrases

SOURCE_QUOTE_CHARS = 110  # a shortened quote in the sources list: about one line
INDENT = 4
DOUBLE_QUOTES = '"“”«»„'
PLAIN_MARK_OPEN, PLAIN_MARK_CLOSE = ">>>", "<<<"
_MARKER = re.compile(r"\[\d+\]")
_SPACE = re.compile(r"\s+")
# What a document may hold that a terminal acts on instead of showing: control strings (OSC:
# window titles, hidden OSC 8 links, OSC 52 clipboard writes; DCS, SOS, PM, APC), CSI
# sequences (clear screen, hidden text), other ESC sequences (ESC c resets the terminal),
# their 8-bit C1 forms, C0 controls but tab and newline, and bidi overrides, which reorder
# what is shown. A string's body ends at the first control so that an unterminated one
# costs the words after it nothing.
_CONTROLS = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def strip_controls(text: str) -> str:
    """``text`` without terminal control sequences and controls (tab and newline stay): what
    came from a document is shown, never run by the terminal."""
    return _CONTROLS.sub("", text)


def _shown_citation(c: Citation) -> Citation:
    quote = strip_controls(c.quote)
    # The phrase's offsets count the removed characters: without them they point elsewhere.
    phrase = (c.answer_start, c.answer_end) if quote == c.quote else (None, None)
    return replace(
        c,
        source=strip_controls(c.source),
        title=strip_controls(c.title),
        url=strip_controls(c.url) if c.url else c.url,
        published=strip_controls(c.published) if c.published else c.published,
        quote=quote,
        answer_start=phrase[0],
        answer_end=phrase[1],
    )


def make_console(plain: bool = False, file: IO[str] | None = None) -> Console:
    """A console on ``file`` (stdout): styled only when it is a terminal and not ``plain``."""
    return Console(
        file=file or sys.stdout,
        color_system=None if plain else "auto",
        highlight=False,
        markup=False,
        emoji=False,
    )


def _styled(console: Console) -> bool:
    return console.is_terminal and console.color_system is not None


def _emit(console: Console, text: Text, indent: int = 0, first: Text | None = None) -> None:
    """``text`` wrapped at word boundaries within the console's width; continuation lines
    (and the first, unless ``first`` is given) indented by ``indent``."""
    width = max(20, console.width - indent)
    lines = text.wrap(console, width, overflow="fold") if text.plain else [Text()]
    for i, line in enumerate(lines):
        line.rstrip()
        prefix = first.copy() if i == 0 and first is not None else Text(" " * indent)
        console.print(prefix + line, soft_wrap=True)


def short_quote(quote: str, limit: int = SOURCE_QUOTE_CHARS) -> str:
    """``quote`` on one line, cut at a word boundary to about ``limit`` characters."""
    q = _SPACE.sub(" ", quote).strip()
    if len(q) <= limit:
        return q
    cut = q.rfind(" ", 0, limit)
    return q[: cut if cut > limit // 2 else limit].rstrip(" ,;:.-–—") + "…"


def quoted(text: str) -> str:
    """``text`` in typographic quotes, unless it holds double quotation marks of its own:
    never “"doubled"” or “nested “ones”” that leave the reader guessing where a quote ends."""
    if any(ch in DOUBLE_QUOTES for ch in text):
        return text
    return f"“{text}”"


def answer_text(paragraph: str, titles: Iterable[str], styled: bool) -> Text:
    text = Text(paragraph)
    if styled:
        text.highlight_regex(_MARKER, "bold")
        text.highlight_words([f"“{t}”" for t in titles if t], "bold")
    return text


def render_answer(answer: Answer, console: Console) -> None:
    """The answer's paragraphs, then its numbered sources and any notes."""
    # Cleaned as a whole, so the answer and its quotes still match where they did.
    answer = replace(
        answer,
        answer=strip_controls(answer.answer),
        citations=[_shown_citation(c) for c in answer.citations],
        notices=[strip_controls(n) for n in answer.notices],
    )
    styled = _styled(console)
    titles = {c.title for c in answer.citations}
    phrases = answer_phrases(answer.answer, answer.citations) if styled else []
    pos, printed = 0, False
    for paragraph in answer.answer.split("\n\n"):
        at, pos = pos, pos + len(paragraph) + 2
        if not paragraph.strip():
            continue
        if printed:
            console.print()
        printed = True
        lead = len(paragraph) - len(paragraph.lstrip())
        text = answer_text(paragraph.strip(), titles, styled)
        for a, b in phrases:  # the answer phrase in each quote, in bold
            a, b = a - at - lead, b - at - lead
            if 0 <= a < b <= len(text.plain):
                text.stylize("bold", a, b)
        _emit(console, text)
    if answer.citations:
        console.print()
        console.print(Text("Sources:", style="bold" if styled else ""))
        render_sources(answer.citations, console, styled)
    for notice in answer.notices:
        _emit(console, Text(f"note: {notice}", style="dim" if styled else ""))


def render_sources(citations: list[Citation], console: Console, styled: bool) -> None:
    """Citations grouped by document (title, date, link or file once), each quote shortened
    under its marker."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.doc_id or c.source, []).append(c)
    for cs in groups.values():
        c = cs[0]
        head = Text(c.title or c.source, style="bold" if styled else "")
        if c.published:
            head.append(f" ({c.published})")
        _emit(console, head, 2, first=Text())
        where = c.url or c.source
        if where and where != head.plain:
            style = Style(dim=True, link=c.url) if styled else Style()
            _emit(console, Text(where, style=style), 2, first=Text())
        for q in cs:
            marker = f"  [{q.n}] "
            quote = Text(quoted(short_quote(q.quote)), style="italic" if styled else "")
            _emit(console, quote, len(marker), first=Text(marker, style="bold" if styled else ""))


def render_document(
    doc: dict[str, Any], marks: list[Citation], console: Console, selected: int | None = None
) -> list[int]:
    """A document's title, date, link or source and its stored text, with the quotes of
    ``marks`` highlighted (on a terminal) or enclosed in >>>[n] ... <<< (plain). Returns the
    numbers of the citations whose quote is no longer in the text (the document changed)."""
    styled = _styled(console)
    doc = {k: strip_controls(v) if isinstance(v, str) else v for k, v in doc.items()}
    marks = [_shown_citation(c) for c in marks]
    text: str = doc.get("text") or ""
    _emit(
        console, Text(doc.get("title") or doc.get("source") or "", style="bold" if styled else "")
    )
    meta = " · ".join(x for x in (doc.get("published"), doc.get("url"), doc.get("source")) if x)
    _emit(console, Text(meta, style="dim" if styled else ""))
    spans, missing = _locate(text, marks)
    if spans:
        shown = ", ".join(f"[{c.n}]" for _, _, c in spans)
        how = (
            "highlighted" if styled else f"marked {PLAIN_MARK_OPEN}[n] like this{PLAIN_MARK_CLOSE}"
        )
        note = f"Quote{'s' if len(spans) > 1 else ''} {shown} of the last answer {how}."
        _emit(console, Text(note, style="dim" if styled else ""))
    console.print()
    body = Text()
    pos = 0
    for start, end, c in spans:
        body.append(text[pos:start])
        strong = "bold black on yellow" if c.n == selected else "black on bright_yellow"
        if styled:
            body.append(f"[{c.n}] ", style="bold")
            body.append(text[start:end], style=strong)
        else:
            body.append(f"{PLAIN_MARK_OPEN}[{c.n}] {text[start:end]}{PLAIN_MARK_CLOSE}")
        pos = end
    body.append(text[pos:])
    for paragraph in body.split("\n", allow_blank=True):
        if paragraph.plain.strip():
            _emit(console, paragraph)
        else:
            console.print()
    return [c.n for c in missing]


def _locate(
    text: str, marks: list[Citation]
) -> tuple[list[tuple[int, int, Citation]], list[Citation]]:
    """Each citation's span in ``text``: at its offsets, or found again if the text moved;
    overlapping spans keep the first."""
    spans: list[tuple[int, int, Citation]] = []
    missing: list[Citation] = []
    for c in marks:
        start = c.start if text[c.start : c.end] == c.quote else text.find(c.quote)
        if not c.quote or start < 0:
            missing.append(c)
            continue
        spans.append((start, start + len(c.quote), c))
    spans.sort(key=lambda s: s[0])
    kept: list[tuple[int, int, Citation]] = []
    for s in spans:
        if not kept or s[0] >= kept[-1][1]:
            kept.append(s)
    return kept, missing
