"""The answer contract on the sample corpus: cited, verbatim, refusing when it must."""

from __future__ import annotations

import re

from assistant.app import Assistant
from tests.conftest import NATO_QUESTION, TAIWAN_QUESTION

CONTRACT_KEYS = {
    "question",
    "standalone_question",
    "answered",
    "answer",
    "citations",
    "retrieved",
    "timings_ms",
}


def _markers(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"\[(\d+)\]", text)}


def assert_contract(a: Assistant, d: dict) -> None:
    assert set(d) >= CONTRACT_KEYS
    assert set(d["timings_ms"]) >= {"retrieve", "answer"}
    for r in d["retrieved"]:
        assert {"rank", "source", "title", "score", "text"} <= set(r)
    # every marker has a citation, every citation is used, numbered 1..n
    assert _markers(d["answer"]) == {c["n"] for c in d["citations"]}
    assert [c["n"] for c in d["citations"]] == list(range(1, len(d["citations"]) + 1))
    docs = {rec["source"]: rec for rec in a.documents()}
    for c in d["citations"]:
        assert {"n", "source", "title", "url", "published", "quote", "start", "end"} <= set(c)
        doc_id = docs[c["source"]]["doc_id"]
        text = a.store.doc_texts([doc_id])[doc_id]
        assert text[c["start"] : c["end"]] == c["quote"], "quote must be the stored text"


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


def test_question_outside_the_documents_is_refused(sample_assistant: Assistant) -> None:
    d = sample_assistant.ask(TAIWAN_QUESTION).to_dict()
    assert_contract(sample_assistant, d)
    assert d["answered"] is False
    assert d["citations"] == []
    assert "do not contain" in d["answer"]
    assert "Taiwan" in d["answer"]


def test_unrelated_question_without_names_is_refused(sample_assistant: Assistant) -> None:
    d = sample_assistant.ask("What is a good recipe for lasagna with spinach?").to_dict()
    assert d["answered"] is False
    assert d["citations"] == []


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


def test_sessions_persist_by_id(sample_assistant: Assistant) -> None:
    sid = "persist-test"
    sample_assistant.ask(NATO_QUESTION, session=sid)
    sample_assistant.sessions._mem.clear()  # as after a restart
    again = sample_assistant.sessions.get(sid)
    assert [t.question for t in again.turns] == [NATO_QUESTION]
    assert again.turns[0].citations[0].quote


def test_bad_questions_are_rejected(sample_assistant: Assistant) -> None:
    import pytest

    with pytest.raises(ValueError, match="empty"):
        sample_assistant.ask("   ")
    with pytest.raises(ValueError, match="limit"):
        sample_assistant.ask("x" * (sample_assistant.settings.answer.max_question_chars + 1))
    with pytest.raises(ValueError, match="session_id"):
        sample_assistant.ask(NATO_QUESTION, session="../../etc/passwd")


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
