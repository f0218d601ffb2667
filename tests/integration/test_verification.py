"""Claim-by-claim verification on the sample articles with the real embedder: paraphrases
are accepted, a sentence citing the wrong passage is re-cited to the one that says it,
near-misses (a figure or a name no passage gives) refused, and a sentence joining two
passages needs both. Claim splitting and renumbering
are tests/unit/test_verification.py."""

from __future__ import annotations

import pytest

from assistant.answer.verification import Evidence, Verifier
from assistant.app import Assistant
from assistant.text import sentence_spans
from tests.support.evidence import evidence_for, evidence_id
from tests.support.samples import NATO_QUESTION

REFUSALS = ["The documents do not contain an answer to this question."]


@pytest.fixture(scope="module")
def evidence(sample_assistant: Assistant) -> tuple[list[Evidence], dict[str, str]]:
    return evidence_for(sample_assistant, NATO_QUESTION)


@pytest.mark.parametrize(
    ("claim", "phrase", "supported"),
    [
        # paraphrases of what the cited passage says
        (
            "Foreign ministers will meet in Brussels to address the wars in Ukraine.",
            "Brussels over",
            True,
        ),
        ("Kyiv has recaptured 50 percent of the territory Russia had seized.", "50 percent", True),
        (
            "Stoltenberg urged Türkiye and Hungary to ratify Sweden's NATO membership.",
            "Türkiye",
            True,
        ),
        ("No NATO personnel have worked inside Ukraine.", "no NATO personnel", True),
        # a figure or a name the passage does not give
        ("Kyiv has recaptured 70 percent of the territory Russia had seized.", "50 percent", False),
        (
            "NATO will stand with Ukraine and Taiwan for as long as it takes.",
            "as long as it takes",
            False,
        ),
        # no support at all
        ("The corpus is empty.", "50 percent", False),
    ],
)
def test_claims_are_checked_against_the_cited_passage(
    sample_assistant: Assistant,
    evidence: tuple[list[Evidence], dict[str, str]],
    claim: str,
    phrase: str,
    supported: bool,
) -> None:
    evs, texts = evidence
    verifier = Verifier(
        sample_assistant.settings, sample_assistant._embed_texts, sample_assistant.retriever.idf
    )
    draft = verifier.verify(f"{claim} [{evidence_id(evs, phrase)}]", evs, texts, REFUSALS)
    assert draft.answered is supported
    assert draft.verification is not None
    assert draft.verification["verified"] == int(supported)
    if supported:
        (c,) = draft.citations
        assert texts[c.doc_id][c.start : c.end] == c.quote
        assert phrase in c.quote or phrase.lower() in c.quote.lower()
        # the quote is whole sentences of the stored text
        spans = sentence_spans(texts[c.doc_id])
        assert c.start in {a for a, _ in spans} and c.end in {b for _, b in spans}


@pytest.mark.parametrize(
    ("claim", "cited", "says_it"),
    [
        ("NATO has been delivering fuel, medical supplies and drone jammers.", "50 percent",
         "drone jammers"),
        ("NATO will continue to stand with Ukraine for as long as it takes.", "Türkiye",
         "as long as it takes"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("marker", ["wrong", "none"])
def test_a_sentence_citing_the_wrong_passage_or_none_is_re_cited(
    sample_assistant: Assistant,
    evidence: tuple[list[Evidence], dict[str, str]],
    claim: str,
    cited: str,
    says_it: str,
    marker: str,
) -> None:
    evs, texts = evidence
    verifier = Verifier(
        sample_assistant.settings, sample_assistant._embed_texts, sample_assistant.retriever.idf
    )
    reply = f"{claim} [{evidence_id(evs, cited)}]" if marker == "wrong" else claim
    draft = verifier.verify(reply, evs, texts, REFUSALS)
    assert draft.verification is not None and draft.verification["recited"] == 1
    (c,) = draft.citations
    assert says_it in c.quote and texts[c.doc_id][c.start : c.end] == c.quote


@pytest.mark.parametrize(
    ("claim", "cites", "kept"),
    [
        # each passage gives half the sentence: both citations stay
        (
            "Stoltenberg pledged NATO's long-term support to Ukraine, and NATO will stand "
            "with Ukraine for as long as it takes.",
            ["reaffirm NATO's long-term support", "as long as it takes"],
            2,
        ),
        # a year each passage's date supplies
        (
            "In 2023 Stoltenberg reaffirmed NATO's long-term support, after saying in 2022 "
            "that NATO would not reduce its support for Ukraine.",
            ["reaffirm NATO's long-term support", "not reduce its support"],
            2,
        ),
        # a second citation that adds nothing is removed
        (
            "Stoltenberg said NATO will reaffirm its long-term support to Ukraine.",
            ["reaffirm NATO's long-term support", "as long as it takes"],
            1,
        ),
        # half of it is in neither passage
        (
            "Stoltenberg reaffirmed NATO's long-term support and called for the pause in "
            "Gaza to be extended.",
            ["reaffirm NATO's long-term support", "as long as it takes"],
            0,
        ),
    ],
)
def test_a_sentence_joining_two_passages_needs_both(
    sample_assistant: Assistant,
    evidence: tuple[list[Evidence], dict[str, str]],
    claim: str,
    cites: list[str],
    kept: int,
) -> None:
    evs, texts = evidence
    ids = [evidence_id(evs, phrase) for phrase in cites]
    assert "Gaza" not in " ".join(e.text for e in evs if e.n in ids)
    marks = "".join(f"[{n}]" for n in ids)
    verifier = Verifier(
        sample_assistant.settings, sample_assistant._embed_texts, sample_assistant.retriever.idf
    )
    draft = verifier.verify(f"{claim[:-1]} {marks}.", evs, texts, REFUSALS)
    assert len(draft.citations) == kept
    assert draft.answered is (kept > 0)
    for c, phrase in zip(draft.citations, cites, strict=False):
        assert phrase in c.quote
