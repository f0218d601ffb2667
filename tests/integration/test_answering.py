"""The answers the real model gives on the sample corpus: the README's two questions, and its
vectors reused between questions, a follow-up it answers. The contract's mechanics (sessions,
refusals, bad input) are tests/unit/test_answering.py."""

from __future__ import annotations

from assistant.app import Assistant
from tests.support.contract import assert_contract
from tests.support.samples import NATO_QUESTION


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


def test_the_judge_reuses_unit_vectors(sample_assistant: Assistant) -> None:
    from assistant.answer.extractive import ExtractiveAnswerer

    embedded: list[str] = []

    def counting(texts: list[str]):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return sample_assistant._embed_texts(texts)

    answerer = ExtractiveAnswerer(
        sample_assistant.settings, sample_assistant.retriever.idf, counting
    )
    hits = sample_assistant.retrieve(NATO_QUESTION)
    texts = sample_assistant.store.doc_texts([h.chunk.doc_id for h in hits])
    first = answerer.draft(NATO_QUESTION, hits, texts)
    assert first.answered
    assert 0 < len([t for t in embedded if t != NATO_QUESTION]) <= 2
    embedded.clear()
    again = answerer.draft(NATO_QUESTION, hits, texts)
    assert [c.quote for c in again.citations] == [c.quote for c in first.citations]
    assert embedded == [NATO_QUESTION], "unit vectors come from the cache the second time"


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
