"""Answers a journalist can trust, from the trained reader: refuse what the documents don't
say (and say what is missing), quote the sentence that answers, never misquote, answer first.
The sample corpus, a folder of local news written for these tests (tests/data/local-news), and
small documents made here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.question import analyse
from assistant.answer.refusal import NO_ANSWER, indirect
from assistant.answer.segments import document_units, quotes_balanced
from assistant.app import Assistant
from tests.support.contract import assert_contract
from tests.support.samples import NATO_QUESTION, ROOT, SAMPLE_CORPUS, make_settings

# Known misses of the shipped reader, kept as tests so a better model shows (strict: a pass
# fails the run until the mark is removed).
MISSED = pytest.mark.xfail(strict=True, reason="the shipped reader misses this: issue 20 is open")

REFUSED = {
    "Who will host the next NATO summit?": "mentions NATO but not who will host the next "
    "NATO summit.",
    "How much money did Germany pledge to Ukraine?": "but not how much money Germany pledged "
    "to Ukraine.",
    "When did Finland join NATO?": "mentions Finland and NATO but not when Finland joined NATO.",
}
CHINA_QUESTION = "What did Stoltenberg say about China?"
WINTER_QUESTION = "What winter supplies has NATO been delivering to Ukraine?"
PLEDGES = ("will not reduce its support", "long-term support", "as long as it takes")


@pytest.mark.parametrize("question", sorted(REFUSED))
def test_questions_the_documents_do_not_answer_are_refused_saying_what_is_missing(
    sample_assistant: Assistant, question: str
) -> None:
    d = sample_assistant.ask(question).to_dict()
    assert_contract(sample_assistant, d)
    assert d["answered"] is False and d["citations"] == []
    assert d["answer"].startswith(NO_ANSWER)
    assert REFUSED[question] in d["answer"]


@pytest.mark.parametrize(
    ("question", "needle"),
    [
        (NATO_QUESTION, "long-term support"),
        # refused: the reader gives the China sentence 0.15
        pytest.param(CHINA_QUESTION, "China", marks=MISSED),
        (WINTER_QUESTION, "fuel, medical supplies, winter equipment and drone jammers"),
    ],
)
def test_questions_the_documents_answer_are_answered_and_cited(
    sample_assistant: Assistant, question: str, needle: str
) -> None:
    d = sample_assistant.ask(question).to_dict()
    assert_contract(sample_assistant, d)
    assert d["answered"] is True and d["citations"]
    assert needle in " ".join(c["quote"] for c in d["citations"])


def first_sentence(answer: str) -> str:
    """The first quoted unit of an answer: after its source line, up to its marker."""
    body = re.split(r"\d{4}-\d\d-\d\d(?: \(newest source\))?: ", answer, maxsplit=1)[1]
    return body[: body.index(" [1]")]


def test_the_nato_answer_opens_with_a_pledge(sample_assistant: Assistant) -> None:
    a = sample_assistant.ask(NATO_QUESTION)
    assert a.citations[0].quote == first_sentence(a.answer)
    assert any(p in a.citations[0].quote for p in PLEDGES), a.citations[0].quote


@MISSED  # the China question is refused
def test_fact_questions_answer_briefly(sample_assistant: Assistant) -> None:
    for q in (CHINA_QUESTION, WINTER_QUESTION):
        a = sample_assistant.ask(q)
        assert a.answered
        assert len(re.sub(r"\[\d+\]", "", a.answer).split()) <= 75
        assert len(a.citations) <= 2


def test_a_sentence_inside_a_quotation_is_quoted_from_its_opening_mark() -> None:
    text = (
        "“Most wars end with negotiations,” Stoltenberg said on Friday.\n"
        "“But what happens at the table depends on the battlefield. Therefore, the best way "
        "to peace is to support Ukraine,” he added.\n"
        "“This continues. It goes on into the next paragraph.\n"
        "Increase in “non-lethal support”: Stoltenberg said allies will send more fuel.\n"
        "New York CNN —\n"
        "A caption of a photo taken on Monday. Jane Doe/Reuters\n"
    )
    units = {text[u.start : u.end]: u.kind for u in document_units(text)}
    quoted = [t for t in units if "Therefore, the best way" in t]
    assert quoted == [
        "“But what happens at the table depends on the battlefield. Therefore, the best way "
        "to peace is to support Ukraine,” he added."
    ]
    assert units[quoted[0]] == "quote"
    # a quotation still open at its paragraph's end gives nothing to cite
    assert units["“This continues. It goes on into the next paragraph."] == "open_quote"
    # a kicker, a dateline and a caption are split off and never cited
    assert units["Increase in “non-lethal support”:"] == "kicker"
    assert units["Stoltenberg said allies will send more fuel."] == "sentence"
    assert units["New York CNN —"] == "dateline"
    assert units["A caption of a photo taken on Monday. Jane Doe/Reuters"] == "caption"
    assert all(quotes_balanced(t) for t, k in units.items() if k in ("sentence", "quote"))


@MISSED  # refused: no unit of the quotation reaches the threshold
def test_the_sample_quotation_is_cited_whole(sample_assistant: Assistant) -> None:
    a = sample_assistant.ask("What is the best way to a peaceful solution, says Stoltenberg?")
    quotes = [c.quote for c in a.citations if "Therefore, the best way" in c.quote]
    assert quotes, a.answer
    assert all(q.startswith("“But what happens at the negotiating table") for q in quotes)


QUESTIONS = [
    NATO_QUESTION,
    CHINA_QUESTION,
    WINTER_QUESTION,
    "What is the best way to a peaceful solution, says Stoltenberg?",
    "What did Stoltenberg say about Gaza?",
    "What did Stoltenberg say about the Western Balkans?",
    "Who decides on sending Patriot air defense systems to Ukraine?",
    "Where will the NATO foreign ministers meet?",
    "What does NATO say about Finland?",
    "Has NATO personnel worked inside Ukraine?",
    "What non-lethal support will NATO step up?",
    "What did Stoltenberg call on Türkiye and Hungary to do?",
]


def test_no_answer_or_quote_has_an_unbalanced_quote_mark(sample_assistant: Assistant) -> None:
    answered = 0
    for q in QUESTIONS:
        a = sample_assistant.ask(q)
        answered += a.answered
        assert "non-lethal support”:" not in a.answer, "the kicker is split off"
        for paragraph in a.answer.split("\n\n"):
            assert quotes_balanced(paragraph), paragraph
        for c in a.citations:
            assert quotes_balanced(c.quote), c.quote
    assert answered >= len(QUESTIONS) // 2


def test_a_document_on_another_topic_does_not_change_an_answer(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    a = Assistant(make_settings(tmp_path))
    a.ingest()
    before = {q: a.ask(q).answer for q in (NATO_QUESTION, WINTER_QUESTION, *REFUSED)}
    (tmp_path / "corpus" / "recipe.md").write_text(
        "# Spinach lasagna for a crowd\n\nLayer the pasta with spinach, ricotta and a tomato "
        "sauce, then bake it for forty minutes. Fresh nutmeg lifts the cheese. Leftovers keep "
        "for three days in the fridge and freeze well for a month.\n",
        encoding="utf-8",
    )
    assert a.ingest().docs_added == 1
    after = {q: a.ask(q).answer for q in before}
    assert after == before


def test_documents_of_only_short_fragments_are_refused_not_an_error(tmp_path: Path) -> None:
    """Every unit shorter than an answer may be: no candidates at all (was a 500 from the API:
    the empty feature table could not be shaped)."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(
        "Zorbel.\n\nZorbel met.\n\nZorbel won.\n\nZorbel lost.\n", encoding="utf-8"
    )
    a = Assistant(make_settings(tmp_path))
    assert a.ingest().docs_added == 1
    answer = a.ask("What did Zorbel do?")
    assert not answer.answered and answer.citations == []
    assert answer.retrieved  # found, and nothing in it long enough to quote


def test_a_work_named_by_its_full_title_is_found_by_its_subtitle(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "zelda.md").write_text(
        "---\ntitle: Nintendo sets a date for the next Zelda sequel\npublished: 2022-06-14\n---\n"
        "Nintendo said on Monday that the sequel to Breath of the Wild will be released on "
        "May 12, 2023, after a delay. The company said the extra time would let its developers "
        "polish the game. Breath of the Wild sold more than 29 million copies worldwide.\n",
        encoding="utf-8",
    )
    a = Assistant(make_settings(tmp_path))
    a.ingest()
    q = "When will the sequel to The Legend of Zelda: Breath of the Wild be released?"
    d = a.ask(q).to_dict()
    assert d["answered"] is True, d["answer"]
    assert "May 12, 2023" in " ".join(c["quote"] for c in d["citations"])


@pytest.mark.parametrize(
    ("question", "clause"),
    [
        ("When did Finland join NATO?", "when Finland joined NATO"),
        ("Who will host the next NATO summit?", "who will host the next NATO summit"),
        ("How many hot dogs did Joey Chestnut eat?", "how many hot dogs Joey Chestnut ate"),
        (
            "Which team won the 2022 NHL Stanley Cup Finals?",
            "which team won the 2022 NHL Stanley Cup Finals",
        ),  # fmt: skip
        ("What does the mayor want?", None),  # subject "the mayor": unsure, so no rewording
    ],
)
def test_refusals_restate_the_question_as_a_clause(question: str, clause: str | None) -> None:
    assert indirect(analyse(question).ask) == clause


def test_question_analysis_reads_type_and_constraints() -> None:
    f = analyse("Afghanistan was rocked by an earthquake. What was the magnitude of the quake?")
    assert (f.qtype, f.focus) == ("quantity", "magnitude")
    assert analyse("Which team won the 2022 Stanley Cup?").years == ["2022"]
    assert analyse("When did Finland join NATO?").qtype == "date"
    assert analyse("Where was the event?").qtype == "place"
    assert analyse("Which embattled celebrity was found liable?").qtype == "person"
    assert analyse(NATO_QUESTION).list_like
    assert analyse(CHINA_QUESTION).speech


# --- a folder of the user's own local news (tests/data/local-news, written for these tests) --
LOCAL_NEWS = ROOT / "tests" / "data" / "local-news"
LOCAL_ANSWERS = {
    "How much will the Harbour Road cycle lanes cost?": "2.3 million euros",
    "Who proposed the cycle lanes?": "Aoife Brennan",
    "When will work on the cycle lanes start?": "September",
    "How did the council vote on the cycle lanes?": "9 to 4",
    "What hours will the library open on Sundays?": "11 a.m. to 4 p.m.",  # MISSED
    "How many residents signed the petition for Sunday opening?": "1,840",  # MISSED
    "How much will an adult return ferry ticket cost?": "13.50 euros",
    "Why are the ferry fares going up?": "fuel prices",  # MISSED
}
LOCAL_ABSENT = [
    "How many parking spaces will Harbour Road lose?",
    "When will the ferry operator buy a new boat?",
]


@pytest.fixture(scope="module")
def local_news(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    tmp = tmp_path_factory.mktemp("local")
    shutil.copytree(LOCAL_NEWS, tmp / "corpus")
    a = Assistant(make_settings(tmp))
    assert a.ingest().docs_added == 3
    return a


# what the shipped reader gets wrong: the opening-day sentence for the hours, the fare rise
# for its reason, the petition sentence refused (0.34)
LOCAL_MISSED = {
    "What hours will the library open on Sundays?",
    "How many residents signed the petition for Sunday opening?",
    "Why are the ferry fares going up?",
    "How many parking spaces will Harbour Road lose?",  # answered from "losing parking spaces"
}


def _marked(questions: list[str]) -> list[Any]:
    return [pytest.param(q, marks=MISSED) if q in LOCAL_MISSED else q for q in questions]


@pytest.mark.parametrize("question", _marked(sorted(LOCAL_ANSWERS)))
def test_the_first_quote_is_the_sentence_that_answers(local_news: Assistant, question: str) -> None:
    d = local_news.ask(question).to_dict()
    assert_contract(local_news, d)
    assert d["answered"] is True, d["answer"]
    assert LOCAL_ANSWERS[question] in d["citations"][0]["quote"], d["answer"]


@pytest.mark.parametrize("question", _marked(LOCAL_ABSENT))
def test_a_question_whose_words_are_there_but_not_its_answer_is_refused(
    local_news: Assistant, question: str
) -> None:
    d = local_news.ask(question).to_dict()
    assert d["answered"] is False, d["answer"]
    assert d["answer"].startswith(NO_ANSWER)


def test_the_answer_phrase_is_marked_inside_the_quote(local_news: Assistant) -> None:
    a = local_news.ask("How much will the Harbour Road cycle lanes cost?")
    c = a.citations[0]
    assert c.answer_start is not None and c.answer_end is not None
    text = local_news.document(c.doc_id)["text"]
    assert "2.3 million" in text[c.answer_start : c.answer_end]


def test_no_quote_opens_with_a_dateline(local_news: Assistant) -> None:
    for q in [*LOCAL_ANSWERS, "What did the town council vote for on Tuesday?"]:
        for c in local_news.ask(q).citations:
            assert not re.match(r"Port Quill, \d", c.quote), c.quote


def test_a_misspelt_question_is_read_as_the_index_spells_it(sample_assistant: Assistant) -> None:
    a = sample_assistant.ask("What suport did NATO pledg to Ukrane?")
    assert a.answered, a.answer
    assert any("did you mean" in n and "Ukraine" in n for n in a.notices), a.notices
    assert a.standalone_question == "What support did NATO pledg to Ukraine?"
    assert any(p in " ".join(c.quote for c in a.citations) for p in PLEDGES), a.answer


def test_unrelated_documents_do_not_push_the_answer_out(tmp_path: Path) -> None:
    from tests.support.corpusgen import write_corpus

    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    write_corpus(tmp_path / "corpus" / "other", 120)
    a = Assistant(make_settings(tmp_path))
    assert a.ingest().docs_added == 122
    d = a.ask("What has NATO been delivering to Ukraine?").to_dict()
    assert d["answered"] is True, d["answer"]
    assert (
        "fuel, medical supplies, winter equipment and drone jammers" in d["citations"][0]["quote"]
    )
