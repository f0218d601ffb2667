"""A misspelt word is respelt as the index spells it, and nothing else is touched."""

from __future__ import annotations

from assistant.answer.spelling import correct
from assistant.text import stem

INDEX = {
    stem(w): 1.0 + i
    for i, w in enumerate(
        ["support", "nato", "pledge", "ukraine", "sport", "stoltenberg", "summit", "host"]
    )
}
INDEX[stem("sport")] = 3.0  # rarer than "support" (idf 1.0): the commoner spelling wins


def idf(term: str) -> float | None:
    return INDEX.get(term)


def test_unknown_words_take_the_commonest_spelling_one_edit_away() -> None:
    fixed = correct("What suport did NATO pledg to Ukrane?", idf)
    assert fixed is not None
    assert fixed.text == "What support did NATO pledg to Ukraine?"  # "pledg" stems as "pledge"
    assert fixed.changes == [("suport", "support"), ("Ukrane", "Ukraine")]
    assert "did you mean “What support did NATO pledg to Ukraine?”" in fixed.notice


def test_known_short_and_unmatched_words_are_left_alone() -> None:
    assert correct("Who will host the NATO summit?", idf) is None
    assert correct("Did Stoltnbreg attend?", idf) is None  # two edits away: not guessed
    assert correct("Did Stoltenbreg attend?", idf).text == "Did Stoltenberg attend?"  # type: ignore[union-attr]
    assert correct("Was it UKRANE?", idf).text == "Was it UKRAINE?"  # type: ignore[union-attr]
    assert correct("Is a hsot here?", idf) is None  # four letters: too short to guess


def test_english_words_the_index_lacks_are_not_respelt() -> None:
    index = {stem("fours"): 2.0, stem("library"): 1.0}
    # "hours" is not in this index but is an English word: never "fours"
    assert correct("What hours does the library keep?", index.get) is None
