"""Claim-by-claim verification on the sample articles, without a model: claims are split at
their markers, quotes are verbatim with offsets, markers renumbered, evidence never repeated.
Judging paraphrases needs the real embedder: tests/integration/test_verification.py."""

from __future__ import annotations

import pytest

from assistant.answer.verification import Evidence, Verifier, split_claims
from assistant.app import Assistant
from tests.support.evidence import evidence_for, evidence_id
from tests.support.samples import NATO_QUESTION

REFUSALS = ["The documents do not contain an answer to this question."]


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    claims = split_claims(
        "NATO met in Brussels. [1] It pledged support [2, 3].[4]\n\n"
        "- Fuel was delivered [1-3][9]\n[5]\nKyiv gained ground [Evidence 6]. "
        "It held [id=7]."
    )
    assert [(c.text, c.cited) for c in claims] == [
        ("NATO met in Brussels.", [1]),
        ("It pledged support.", [2, 3, 4]),
        ("- Fuel was delivered", [1, 2, 3, 9, 5]),
        ("Kyiv gained ground.", [6]),
        ("It held.", [7]),
    ]
    assert [c.sep for c in claims] == ["", " ", "\n\n", "\n", " "]


@pytest.fixture(scope="module")
def evidence(sample_assistant: Assistant) -> tuple[list[Evidence], dict[str, str]]:
    return evidence_for(sample_assistant, NATO_QUESTION)


def test_citations_are_renumbered_in_order_of_first_use(
    sample_assistant: Assistant, evidence: tuple[list[Evidence], dict[str, str]]
) -> None:
    evs, texts = evidence
    fuel, pledge = evidence_id(evs, "drone jammers"), evidence_id(evs, 'long-term support"')
    answer = (
        "NATO has been delivering fuel, medical supplies, winter equipment and drone "
        f"jammers [{fuel}]. "
        f"Stoltenberg said NATO will reaffirm its long-term support to Ukraine [{pledge}]. "
        f"NATO delivered fuel and drone jammers [{fuel}]."
    )
    verifier = Verifier(
        sample_assistant.settings, sample_assistant._embed_texts, sample_assistant.retriever.idf
    )
    draft = verifier.verify(answer, evs, texts, REFUSALS)
    assert [c.n for c in draft.citations] == [1, 2]
    assert draft.answer.endswith("NATO delivered fuel and drone jammers. [1]")
    assert "long-term support to Ukraine. [2]" in draft.answer
    assert "drone jammers" in draft.citations[0].quote


def test_evidence_never_repeats_a_sentence(
    evidence: tuple[list[Evidence], dict[str, str]],
) -> None:
    evs, _texts = evidence
    seen = [(e.doc_id, s) for e in evs for s in e.sentences]
    assert len(seen) == len(set(seen))
    assert [e.n for e in evs] == list(range(1, len(evs) + 1))
