"""The answer contract on the sample corpus, with the hashed embedder: cited, verbatim,
refusing when it must, conversations kept. What the real model's answers say is
tests/integration/test_answering.py."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from tests.support.contract import assert_contract
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION


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


def test_sessions_persist_by_id(sample_assistant: Assistant) -> None:
    sid = "persist-test"
    sample_assistant.ask(NATO_QUESTION, session=sid)
    sample_assistant.sessions._mem.clear()  # as after a restart
    again = sample_assistant.sessions.get(sid)
    assert [t.question for t in again.turns] == [NATO_QUESTION]
    assert again.turns[0].citations[0].quote


def test_bad_questions_are_rejected(sample_assistant: Assistant) -> None:
    with pytest.raises(ValueError, match="empty"):
        sample_assistant.ask("   ")
    with pytest.raises(ValueError, match="limit"):
        sample_assistant.ask("x" * (sample_assistant.settings.answer.max_question_chars + 1))
    with pytest.raises(ValueError, match="session_id"):
        sample_assistant.ask(NATO_QUESTION, session="../../etc/passwd")
