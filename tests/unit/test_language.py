"""Questions and documents in another language are said to be so (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.language import foreign_language
from assistant.settings import Settings
from tests.support.samples import NATO_QUESTION


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Was hat die NATO der Ukraine versprochen?", "German"),
        ("Qu'est-ce que l'OTAN a promis à l'Ukraine pour la défense?", "French"),
        ("¿Qué prometió la OTAN a Ucrania en la cumbre?", "Spanish"),
        ("Che cosa ha promesso la NATO all'Ucraina per il futuro?", "Italian"),
        ("Wat heeft de NAVO aan Oekraïne beloofd voor de toekomst?", "Dutch"),
        (NATO_QUESTION, None),
        ("What did Stoltenberg say about the Bundeswehr and la Francophonie?", None),
        ("NATO Finland?", None),  # too little to tell: searched as it is
    ],
)
def test_the_language_of_a_question(text: str, language: str | None) -> None:
    assert foreign_language(text) == language


def test_a_question_in_another_language_is_answered_plainly(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask("Was hat die NATO der Ukraine versprochen?")
    assert not answer.answered and not answer.citations
    assert "seems to be in German" in answer.answer and "English" in answer.answer
    assert "mention" not in answer.answer  # no misleading "they mention X but not Y"


def test_the_ingest_summary_names_documents_not_in_english(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bericht.txt").write_text(
        "Regierung beschließt Haushalt\n\nDie Regierung hat am 20. Februar 2024 den Haushalt "
        "beschlossen. Der Minister sagte, dass die Ausgaben für die Bildung steigen werden.",
        encoding="utf-8",
    )
    (corpus / "story.txt").write_text(
        "Council Approves Budget\n\nThe council approved the budget on Monday, 6 May 2024.",
        encoding="utf-8",
    )
    report = Assistant(Settings(index_dir=tmp_path / "index", corpus_dir=corpus)).ingest()
    assert report.docs_added == 2  # indexed all the same: its names and figures are searchable
    assert report.not_english == [("bericht.txt", "German")]
    assert "not in English (the assistant reads English): bericht.txt (German)" in report.summary()
