"""What the extractive answerer does with the reader's verdicts, whatever the model: which
units it reads (and in what order), when it refuses, how many units it quotes, how sources of
different dates are ordered, and the answer phrase it marks. A scripted reader stands in for
the model; documents are made here and handed over as retrieval would."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistant.answer.extractive import CONFIDENT, FIRST_READ, ExtractiveAnswerer, candidates
from assistant.answer.reader import Reading, Unit
from assistant.answer.refusal import NO_ANSWER
from assistant.types import Chunk, Hit
from tests.support.samples import make_settings


class ScriptedReader:
    """Gives each unit the probability of the first scripted phrase it contains (else
    ``rest``), and marks that phrase as the answer."""

    name = "scripted"

    def __init__(self, script: dict[str, float], threshold: float = 0.5, rest: float = 0.01):
        self.script, self.threshold, self.rest = script, threshold, rest
        self.read_units: list[list[str]] = []

    def read(self, question: str, units: Sequence[Unit]) -> list[Reading]:
        self.read_units.append([u.text for u in units])
        out = []
        for u in units:
            hit = next((p for p in self.script if p in u.text), None)
            if hit is None:
                out.append(Reading(self.rest))
            else:
                at = u.text.index(hit)
                out.append(Reading(self.script[hit], (at, at + len(hit))))
        return out


def docs_as_hits(docs: dict[str, tuple[str, str | None]]) -> tuple[list[Hit], dict[str, str]]:
    """Each document one retrieved chunk (its whole text), ranked in the order given."""
    hits = []
    for r, (d, (text, published)) in enumerate(docs.items(), start=1):
        chunk = Chunk(f"{d}#0", d, text, 0, len(text), f"{d}.txt", f"Title {d}", None, published)
        hits.append(Hit(chunk, 1 / r, r))
    return hits, {d: t for d, (t, _p) in docs.items()}


def answerer(tmp_path: Path, reader: ScriptedReader, **settings: object) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(make_settings(tmp_path, **settings), lambda _t: 1.0, reader)


LANES = (
    "Port Quill, 14 May 2024 — The town council voted 9 to 4 on Tuesday to build cycle lanes.\n\n"
    "The lanes will cost 2.3 million euros, most of it paid by a regional grant.\n\n"
    "The plan was proposed by councillor Aoife Brennan, who campaigns for safer streets.\n"
)


def test_the_unit_the_reader_rates_best_is_quoted_with_its_phrase_marked(tmp_path: Path) -> None:
    reader = ScriptedReader({"2.3 million euros": 0.93, "voted 9 to 4": 0.4})
    hits, texts = docs_as_hits({"lanes": (LANES, "2024-05-14")})
    d = answerer(tmp_path, reader).draft("How much will the lanes cost?", hits, texts)
    assert d.answered and len(d.citations) == 1
    c = d.citations[0]
    assert c.quote == "The lanes will cost 2.3 million euros, most of it paid by a regional grant."
    assert texts["lanes"][c.start : c.end] == c.quote
    assert texts["lanes"][c.answer_start : c.answer_end] == "2.3 million euros"  # type: ignore[misc]
    assert d.answer.startswith("From “Title lanes”, 2024-05-14: The lanes will cost")


def test_no_unit_at_the_threshold_is_a_refusal_that_says_what_is_missing(tmp_path: Path) -> None:
    reader = ScriptedReader({"voted 9 to 4": 0.3}, threshold=0.5)
    hits, texts = docs_as_hits({"lanes": (LANES, None)})
    d = answerer(tmp_path, reader).draft("When will the lanes open?", hits, texts)
    assert not d.answered and d.citations == []
    assert d.answer.startswith(NO_ANSWER) and "when the lanes will open" in d.answer


def test_the_dateline_is_never_part_of_a_quote(tmp_path: Path) -> None:
    hits, texts = docs_as_hits({"lanes": (LANES, None)})
    units = [c.text for c in candidates(hits, texts)]
    assert units[0] == "The town council voted 9 to 4 on Tuesday to build cycle lanes."
    assert not any(u.startswith("Port Quill") for u in units)


def test_units_of_deep_chunks_are_read_and_repeats_and_questions_are_not(tmp_path: Path) -> None:
    filler = {
        f"d{i}": (f"Filler story number {i} talks about the weather in the hills.", None)
        for i in range(20)
    }
    docs = {
        **filler,
        "copy": ("Filler story number 3 talks about the weather in the hills.", None),
        "quiz": ("How much will the lanes cost? Take our quiz.", None),
        "deep": ("The lanes will cost 2.3 million euros in all.", None),
    }
    reader = ScriptedReader({"2.3 million": 0.9})
    hits, texts = docs_as_hits(docs)
    d = answerer(tmp_path, reader, read_chunks=24).draft("How much?", hits, texts)
    assert d.answered and d.citations[0].doc_id == "deep"  # the 23rd chunk of 23
    read = [t for batch in reader.read_units for t in batch]
    assert read.count("Filler story number 3 talks about the weather in the hills.") == 1
    assert not any(t.endswith("?") for t in read)


def test_more_units_are_read_only_when_the_first_ones_do_not_answer_plainly(
    tmp_path: Path,
) -> None:
    docs = {
        f"d{i}": (f"Story {i} says the budget vote was close and heated.", None)
        for i in range(FIRST_READ + 8)
    }
    hits, texts = docs_as_hits(docs)
    sure = ScriptedReader({"Story 0 ": CONFIDENT})
    answerer(tmp_path, sure, read_chunks=40).draft("Was the vote close?", hits, texts)
    assert [len(b) for b in sure.read_units] == [FIRST_READ]
    unsure = ScriptedReader({"Story 0 ": CONFIDENT - 0.2})
    answerer(tmp_path, unsure, read_chunks=40).draft("Was the vote close?", hits, texts)
    assert [len(b) for b in unsure.read_units] == [FIRST_READ, 8]


def test_a_fact_question_gets_one_unit_unless_another_source_says_otherwise(
    tmp_path: Path,
) -> None:
    old = (
        "The bridge repairs will cost 4 million euros, the council said.\n"
        "Engineers will start repairs on the bridge in June.\n",
        "2024-01-10",
    )
    new = ("The bridge repairs will now cost 5.5 million euros after a new survey.\n", "2024-03-02")
    same = ("The bridge repairs will cost 4 million euros overall.\n", "2024-02-01")
    script = {"4 million euros": 0.85, "5.5 million euros": 0.8, "start repairs": 0.7}
    hits, texts = docs_as_hits({"old": old, "new": new})
    d = answerer(tmp_path, ScriptedReader(script)).draft("How much will it cost?", hits, texts)
    # two figures from two sources: the newest leads, the other is named as older
    assert [c.doc_id for c in d.citations] == ["new", "old"]
    assert "(newest source)" in d.answer and "2024-01-10 (older source)" in d.answer
    hits, texts = docs_as_hits({"old": old, "same": same})
    d = answerer(tmp_path, ScriptedReader(script)).draft("How much will it cost?", hits, texts)
    assert [c.doc_id for c in d.citations] == ["old"]  # the same figure again adds nothing


def test_a_question_that_asks_for_several_things_gets_the_parts(tmp_path: Path) -> None:
    text = (
        "NATO will not reduce its support for Ukraine, Stoltenberg said.\n"
        "NATO has been delivering fuel, medical supplies and drone jammers.\n"
        "Allies will also fund military training for Ukraine's forces.\n"
        "The meeting ended with a dinner for the ministers.\n"
    )
    script = {"not reduce": 0.9, "delivering fuel": 0.8, "military training": 0.6, "dinner": 0.3}
    hits, texts = docs_as_hits({"nato": (text, "2022-11-25")})
    d = answerer(tmp_path, ScriptedReader(script)).draft(
        "What support did NATO pledge to Ukraine?", hits, texts
    )
    assert [c.quote.split()[2] for c in d.citations] == ["not", "been", "also"]
    assert "dinner" not in d.answer  # below the threshold
