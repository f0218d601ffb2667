"""The answers the real model gives on the sample corpus: the README's two questions, the
reader loaded once and bounded, a follow-up it answers. The contract's mechanics (sessions,
refusals, bad input) are tests/unit/test_answering.py."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from tests.support.contract import assert_contract
from tests.support.samples import NATO_QUESTION


# the shipped reader misses this (the delivery sentence is not quoted): issue 20 is open
@pytest.mark.xfail(strict=True, reason="a known miss of the shipped reader")
def test_nato_answer_cites_both_articles_verbatim(sample_assistant: Assistant) -> None:
    ans = sample_assistant.ask(NATO_QUESTION)
    d = ans.to_dict()
    assert_contract(sample_assistant, d)
    assert d["answered"] is True
    sources = {c["source"] for c in d["citations"]}
    assert sources == {"000_7f57f19b72752444.txt", "004_b2e554588cd8baa4.txt"}
    quotes = " ".join(c["quote"] for c in d["citations"])
    assert "long-term support" in quotes  # the 2023 pledge
    # the 2022 pledge, in either of the sentences that state it
    assert "as long as it takes" in quotes or "will not reduce its support" in quotes
    assert "fuel, medical supplies, winter equipment and drone jammers" in quotes
    # every sentence of the answer ends with a marker
    for paragraph in d["answer"].split("\n\n"):
        assert paragraph.rstrip().endswith("]")
    # dates are visible and the newest source is marked; the answer comes first, not the date
    assert "2022-11-25" in d["answer"]
    assert "2023-11-27 (newest source)" in d["answer"]
    pubs = {c["source"]: c["published"] for c in d["citations"]}
    assert pubs["000_7f57f19b72752444.txt"] == "2023-11-27"


def test_the_reader_is_loaded_once_and_reads_a_bounded_number_of_units(
    sample_assistant: Assistant,
) -> None:
    reader = sample_assistant.reader
    calls: list[int] = []
    real = reader.read

    def counting(question, units):  # type: ignore[no-untyped-def]
        calls.append(len(units))
        return real(question, units)

    reader.read = counting  # type: ignore[method-assign]
    try:
        first = sample_assistant.ask(NATO_QUESTION)
        again = sample_assistant.ask(NATO_QUESTION)
    finally:
        del reader.read  # type: ignore[method-assign]
    assert sample_assistant.reader is reader  # one model for every question
    assert [c.quote for c in again.citations] == [c.quote for c in first.citations]
    assert 0 < sum(calls) <= 2 * sample_assistant.settings.answer.read_units


# the shipped reader refuses the follow-up: issue 20 is open
@pytest.mark.xfail(strict=True, reason="a known miss of the shipped reader")
def test_follow_up_uses_the_previous_turn(sample_assistant: Assistant) -> None:
    session = sample_assistant.new_session(keep=False)
    first = sample_assistant.ask(NATO_QUESTION, session=session)
    assert first.answered
    follow = sample_assistant.ask("and what did he say about China?", session=session)
    d = follow.to_dict()
    assert_contract(sample_assistant, d)
    assert d["answered"] is True
    assert "Stoltenberg" in d["standalone_question"]
    assert NATO_QUESTION in d["standalone_question"]
    assert all("China" in c["quote"] or "Beijing" in c["quote"] for c in d["citations"])
    assert len(sample_assistant.conversation(session)) == 2
