"""Which units of the retrieved documents the extractive answerer may quote, and how it reads
the question: mechanics around the reader that hold whatever its weights say. Documents made
here, handed to the answerer as retrieval would; no index, no embedder."""

from __future__ import annotations

from pathlib import Path

from assistant.answer.extractive import ExtractiveAnswerer, candidates
from assistant.answer.question import analyse
from assistant.types import Chunk, Hit
from tests.support.fake_reader import OverlapReader
from tests.support.samples import make_settings

RETAILER = "Which major US retailer announced this week it is slashing prices on clothing?"


def passages(docs: dict[str, str]) -> tuple[list[Hit], dict[str, str]]:
    """Retrieval's answer without an index: each document one hit, in the order given."""
    hits = [
        Hit(Chunk(f"{d}#0", d, t, 0, len(t), f"{d}.md", d, published="2022-07-29"), 1 / r, r)
        for r, (d, t) in enumerate(docs.items(), start=1)
    ]
    return hits, dict(docs)


def is_question(text: str) -> bool:
    return text.rstrip('”"’)').endswith("?")


def test_a_question_in_a_document_is_never_quoted(tmp_path: Path) -> None:
    # A newsletter's quiz asks the reader's question word for word: it restates, never answers.
    quiz = (
        "Take our weekly news quiz before the weekend.\n"
        f"{RETAILER}\n"
        "“Will shoppers come back to the malls?”\n"
        "Walmart announced on Tuesday that it is slashing prices on clothing and electronics.\n"
    )
    answerer = ExtractiveAnswerer(make_settings(tmp_path), lambda _t: 1.0, OverlapReader(0.3))
    hits, texts = passages({"quiz": quiz})
    ranked = answerer.rank(RETAILER, hits, texts)
    assert [c.text for c in ranked if "Walmart announced" in c.text]
    assert not [c.text for c in ranked if is_question(c.text)]
    d = answerer.draft(RETAILER, hits, texts)
    assert not [c.quote for c in d.citations if is_question(c.quote)], d.answer


def test_a_story_stored_as_its_headline_alone_can_be_quoted() -> None:
    headline = "Walmart is slashing prices on clothing and other products - CNN"
    story = (
        "Sprite is ditching its green bottles\n"
        "Coca-Cola said on Wednesday that Sprite will move to clear plastic bottles.\n"
    )
    hits, texts = passages({"walmart": headline, "sprite": story})
    units = [c.text for c in candidates(hits, texts)]
    assert headline in units
    # a headline above its story's sentences is still not quoted
    assert "Sprite is ditching its green bottles" not in units
    assert "Coca-Cola said on Wednesday that Sprite will move to clear plastic bottles." in units


def test_which_of_the_following_asks_for_the_noun_after_it() -> None:
    f = analyse(
        "Rents in the US recently hit a record high for the 17th month in a row. "
        "Which of the following US cities saw the biggest increase compared to a year ago?"
    )
    assert (f.qtype, f.focus) == ("place", "cities")
    assert f.ask.startswith("Which of the following US cities")  # the scene is set apart
    assert analyse("Which of these automakers recalled the most cars?").focus == "automakers"
