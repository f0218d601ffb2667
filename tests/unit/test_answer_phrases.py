"""The answer phrase the reader marks inside a quote is shown in bold by every front end that
can show bold (web UI, terminal, Slack), at the right characters, and nowhere else."""

from __future__ import annotations

import io

from rich.console import Console

from assistant.fronts.slack_messages import answer_messages, block_text
from assistant.fronts.terminal import render_answer
from assistant.fronts.web import answer_markdown
from assistant.types import Answer, Citation, answer_phrases

DOC = "Port Quill, 14 May 2024 — The lanes will cost 2.3 million euros [3], the council said."
QUOTE = "The lanes will cost 2.3 million euros [3], the council said."
START = DOC.index(QUOTE)
PHRASE = DOC.index("2.3 million euros")


def answer() -> Answer:
    c = Citation(1, "lanes.txt", "Cycle lanes", None, "2024-05-14", QUOTE, START,
                 START + len(QUOTE), "d1", PHRASE, PHRASE + len("2.3 million euros"))  # fmt: skip
    text = "From “Cycle lanes”, 2024-05-14: " + QUOTE.replace("[3]", "(3)") + " [1]"
    return Answer("How much?", "How much?", True, text, [c], [], {})


def test_the_phrase_is_found_in_the_answer_text() -> None:
    a = answer()
    [(s, e)] = answer_phrases(a.answer, a.citations)
    assert a.answer[s:e] == "2.3 million euros"


def test_a_phrase_outside_its_quote_or_most_of_it_is_not_marked() -> None:
    a = answer()
    c = a.citations[0]
    outside = Citation(1, c.source, c.title, None, None, c.quote, c.start, c.end, "d1", 0, 5)
    assert outside.answer_start is None  # not inside start..end: dropped when made
    whole = Citation(1, c.source, c.title, None, None, c.quote, c.start, c.end, "d1",
                     c.start, c.end - 2)  # fmt: skip
    assert answer_phrases(a.answer, [whole]) == []


def test_web_terminal_and_slack_show_it_in_bold() -> None:
    a = answer()
    md = answer_markdown(a.answer, 0, a.citations)
    assert "**2\\.3 million euros**" in md or "**2.3 million euros**" in md
    assert md.count("**") == 2
    out = io.StringIO()
    render_answer(a, Console(file=out, force_terminal=True, width=200, color_system="standard"))
    assert "\x1b[1m2.3 million euros" in out.getvalue()
    plain = io.StringIO()
    render_answer(a, Console(file=plain, force_terminal=False, width=200))
    assert "\x1b" not in plain.getvalue() and "2.3 million euros (3)" in plain.getvalue()
    body = block_text(answer_messages(a)[0].blocks[0])
    assert "*2.3 million euros*" in body
