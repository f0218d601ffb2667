"""Retrieval quality: relative time read against as_of, one chunk per document first, no
duplicate copies; answers name the newest source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.app import Assistant
from assistant.fronts.cli import app
from assistant.search.recency import Window, date_prior, default_window, relative_window
from tests.support.samples import NATO_QUESTION, make_settings
from tests.support.tinyqa import write_dataset

runner = CliRunner()
AS_OF = date(2022, 6, 16)


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("Which show was recently renewed?", date(2022, 6, 2), AS_OF),
        ("Who resigned this week?", date(2022, 6, 9), AS_OF),
        ("What happened this past weekend in Paris?", date(2022, 6, 9), AS_OF),
        ("What did the court rule yesterday?", date(2022, 6, 15), date(2022, 6, 15)),
        ("What did the court rule today?", AS_OF, AS_OF),
        ("Who won the vote last week?", date(2022, 6, 2), date(2022, 6, 13)),
        ("What did the Fed decide last month?", date(2022, 5, 1), date(2022, 5, 31)),
        ("How many cases so far this year?", date(2022, 1, 1), AS_OF),
        ("Who won the election last year?", date(2021, 1, 1), date(2021, 12, 31)),
        ("Which product will Apple unveil next month?", date(2022, 6, 2), AS_OF),
        ("Which singer will soon launch a residency?", date(2022, 6, 2), AS_OF),
        ("Who won the election in 2016?", date(2016, 1, 1), date(2016, 12, 31)),
    ],
)
def test_relative_time_becomes_a_window(question: str, start: date, end: date) -> None:
    w = relative_window(question, AS_OF)
    assert w is not None
    assert (w.start, w.end) == (start, end)


def test_last_month_in_january_is_december() -> None:
    w = relative_window("What happened last month?", date(2023, 1, 10))
    assert w is not None and (w.start, w.end) == (date(2022, 12, 1), date(2022, 12, 31))


def test_questions_without_relative_time_have_no_window() -> None:
    assert relative_window("Which team won the 2022 Stanley Cup?", AS_OF) is None
    assert relative_window("Who won the Stanley Cup in 2022?", AS_OF) is None  # the present
    assert relative_window("What is the weekly average?", AS_OF) is None
    w = default_window(AS_OF, 30)
    assert (w.start, w.end) == (date(2022, 5, 17), AS_OF)


def test_date_prior_prefers_the_window_and_demotes_the_future() -> None:
    w = Window(date(2022, 6, 9), AS_OF, "this week")
    inside = date_prior(1.0, date(2022, 6, 12), AS_OF, w, 0.5, 0.5)
    near = date_prior(1.0, date(2022, 6, 5), AS_OF, w, 0.5, 0.5)
    far = date_prior(1.0, date(2021, 6, 5), AS_OF, w, 0.5, 0.5)
    future = date_prior(1.0, date(2022, 7, 1), AS_OF, None, 0.5, 0.5)
    assert inside == 1.5 and 1.0 < near < inside and far == 1.0
    assert future == 0.5
    assert date_prior(1.0, None, AS_OF, w, 0.5, 0.5) == 1.0  # undated: no opinion


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    tmp = tmp_path_factory.mktemp("recency")
    data = write_dataset(tmp / "tinyqa")
    a = Assistant(make_settings(tmp))
    assert a.ingest([data / "corpus.jsonl"]).docs_added == 5
    return a


QUESTION = "How much will farmers in the Ostrava valley get from the drought relief plan this week?"


def _first_doc_date(a: Assistant, as_of: str | None) -> str | None:
    hits = a.retrieve(QUESTION, as_of=as_of)
    return hits[0].chunk.published


def test_as_of_decides_which_of_two_stories_on_one_topic_comes_first(tiny: Assistant) -> None:
    assert _first_doc_date(tiny, "2022-06-16") == "2022-06-13"
    assert _first_doc_date(tiny, "2021-06-12") == "2021-06-10"
    # Default: the newest document's date, so "this week" is the latest week in the index.
    assert tiny.retriever.newest_date() == date(2022, 6, 15)
    assert _first_doc_date(tiny, None) == "2022-06-13"


def test_questions_naming_no_time_prefer_recent_coverage(tiny: Assistant) -> None:
    # Only the 2021 story says "grants"; the 2022 one is the current plan.
    timeless = "How much will the Ostrava valley drought relief grants for farmers be?"
    first = tiny.retrieve(timeless, as_of="2022-06-16")[0].chunk.published
    assert first == "2022-06-13"
    tiny.settings.retrieval.recency_boost = 0.0
    try:  # without the preference, the words decide
        first = tiny.retrieve(timeless, as_of="2022-06-16")[0].chunk.published
    finally:
        tiny.settings.retrieval.recency_boost = 0.5
    assert first == "2021-06-10"
    # a past year named in the question points there instead
    old = tiny.retrieve(timeless + " in 2021", as_of="2022-06-16")[0].chunk.published
    assert old == "2021-06-10"


def test_the_boost_is_soft_and_filters_stay_hard(tiny: Assistant) -> None:
    from assistant.types import Filters

    # Both stories are still retrieved: preferring a window never hides the other one.
    dates = {h.chunk.published for h in tiny.retrieve(QUESTION, as_of="2021-06-12")}
    assert {"2021-06-10", "2022-06-13"} <= dates
    only_old = tiny.retrieve(QUESTION, as_of="2022-06-16", filters=Filters(until="2021-12-31"))
    assert {h.chunk.published for h in only_old} <= {"2021-06-10", "2021-06-12"}


def test_best_chunk_of_each_document_comes_before_second_chunks(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "tinyqa")
    # Small chunks, so that each article has several and the best ones cluster in one story.
    a = Assistant(make_settings(tmp_path, chunk_size=32, chunk_overlap=0))
    a.ingest([data / "corpus.jsonl"])
    assert a.store.count() > 2 * 5
    hits = a.retrieve("Ostrava valley drought relief plan farmers wells", top_k=10)
    docs = [h.chunk.doc_id for h in hits]
    first_repeat = next(i for i, d in enumerate(docs) if d in docs[:i])
    assert len(set(docs[:first_repeat])) == len(set(docs)) == 5


def test_syndicated_copies_are_retrieved_once(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "tinyqa")
    lines = (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    copy = json.loads(lines[0])
    copy.update(doc_id="a-bridge-copy", url="https://other.example/bridge", title="Bridge back")
    with (data / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(copy) + "\n")
    a = Assistant(make_settings(tmp_path, dedupe_threshold=0.8))
    a.ingest([data / "corpus.jsonl"])
    question = "How many steel cables were replaced on the Kestrel Harbor bridge?"
    texts = [h.chunk.text for h in a.retrieve(question, top_k=6)]
    assert len(texts) == 5 and sum("140 steel cables" in t for t in texts) == 1
    a.settings.retrieval.dedupe_threshold = 1.0  # off: both copies come back
    texts = [h.chunk.text for h in a.retrieve(question, top_k=6)]
    assert sum("140 steel cables" in t for t in texts) == 2


def test_answer_names_the_newest_of_several_dated_sources(sample_assistant: Assistant) -> None:
    ans = sample_assistant.ask(NATO_QUESTION)
    assert "2023-11-27 (newest source)" in ans.answer
    assert "2022-11-25 (newest source)" not in ans.answer
    assert any("newest is" in n and "(2023-11-27)" in n for n in ans.notices)


def test_cli_as_of_and_batch_lines_carry_it(tiny: Assistant, tmp_path: Path) -> None:
    index = str(tiny.settings.index.index_dir)
    r = runner.invoke(app, ["ask", QUESTION, "--json", "--index", index, "--as-of", "2021-06-12"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["retrieved"][0]["published"] == "2021-06-10"
    batch = tmp_path / "b.jsonl"
    lines = [
        {"question": QUESTION, "as_of": "2021-06-12"},
        {"question": QUESTION, "as_of": "2022/06/16"},
        {"question": QUESTION, "as_of": "someday"},
    ]
    batch.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    r = runner.invoke(app, ["ask", "--batch", str(batch), "--index", index])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert rows[0]["retrieved"][0]["published"] == "2021-06-10"
    assert rows[1]["retrieved"][0]["published"] == "2022-06-13"
    assert rows[2] == {
        "line": 3,
        "question": QUESTION,
        "error": "as_of 'someday' is not a date (use YYYY-MM-DD)",
    }
    r = runner.invoke(app, ["ask", QUESTION, "--index", index, "--as-of", "soon"])
    assert r.exit_code == 2 and "as_of 'soon' is not a date" in r.output
