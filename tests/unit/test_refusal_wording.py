"""A refusal restates the question as a clause: "but not when the lanes will open"."""

from __future__ import annotations

import pytest

from assistant.answer.refusal import indirect


@pytest.mark.parametrize(
    ("question", "clause"),
    [
        ("When did Finland join NATO?", "when Finland joined NATO"),
        ("When will the lanes open?", "when the lanes will open"),
        ("When will the council vote on the plan?", "when the council will vote on the plan"),
        (
            "What hours will the library open on Sundays?",
            "what hours the library will open on Sundays",
        ),
        ("What will the new fares be?", "what the new fares will be"),
        ("Who will host the summit?", "who will host the summit"),
    ],
)
def test_questions_become_clauses(question: str, clause: str) -> None:
    assert indirect(question) == clause


@pytest.mark.parametrize(
    "question",
    [
        # "return" is a noun here: no verb to move the modal before, so no guess
        "How much will an adult return ferry ticket cost?",
        "When will it be ready?",
    ],
)
def test_unsure_word_orders_are_not_guessed(question: str) -> None:
    assert indirect(question) is None
