"""`assistant eval` end to end with the real model: ingestion, ranks and answers (whether a
question is answered is the real model's judgement), and the answer runs with and without
the gold document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.fronts.cli import app
from tests.support.tinyqa import ARTICLES, QUESTIONS, write_dataset

runner = CliRunner()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tinyqa")


# the shipped reader answers one of the four generated questions wrongly: issue 20 is open
@pytest.mark.xfail(strict=True, reason="a known miss of the shipped reader")
def test_eval_scores_a_generated_dataset_and_reuses_its_index(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["eval", str(dataset), "--json", "--misses"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["questions"] == len(QUESTIONS)
    # The default index is a dedicated folder named after the dataset, inside index_dir.
    assert Path(report["index"]).parent.resolve() == (tmp_path / "index").resolve()
    assert Path(report["index"]).name.startswith("eval-tinyqa-")
    assert report["ingest"]["docs_added"] == len(ARTICLES)
    m = report["metrics"]
    assert m["hits@1"] == 1.0 and m["mrr@10"] == 1.0, report["results"]
    assert m["answered"] == 1.0
    assert m["answer_contains_gold"] == 1.0, [x["answer_text"] for x in report["results"]]
    rows = {x["qid"]: x for x in report["results"]}
    assert rows["q4"]["as_of"] == "2022-06-16"
    assert rows["q4"]["gold"] == ["Ostrava valley drought plan expanded (2022-06-13)"]
    assert set(report["latency_ms"]) == {
        "retrieve_p50",
        "retrieve_p95",
        "answer_p50",
        "answer_p95",
    }

    again = runner.invoke(app, ["eval", str(dataset), "--json", "--limit", "2"])
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["index"] == report["index"]
    assert second["ingest"]["docs_added"] == 0
    assert second["ingest"]["docs_unchanged"] == len(ARTICLES)
    assert second["questions"] == 2 and "results" not in second


# the shipped reader answers one of the four generated questions wrongly: issue 20 is open
@pytest.mark.xfail(strict=True, reason="a known miss of the shipped reader")
def test_answer_runs_refuse_without_the_gold_and_answer_with_it(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["eval", str(dataset), "--json", "--answer-runs"])
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["answer_runs"]
    rows = {(x["run"], x["half"]): x for x in runs["rows"]}
    assert rows[("retrieved", "all")]["answered_right"] == 1.0
    assert rows[("five+gold", "all")]["answered_right"] >= 0.5
    # each story has its own vocabulary: without its article nothing answers a question
    removed = rows[("gold-removed", "all")]
    assert removed["absent"] >= 3 and removed["refused_when_absent"] == 1.0
    assert rows[("five-gold", "all")]["refused_when_absent"] == 1.0
    outcomes = runs["outcomes"]
    assert {o["run"] for o in outcomes} == {"retrieved", "gold-removed", "five+gold", "five-gold"}
    assert all(o["balanced"] for o in outcomes)
    assert all(o["words"] <= 60 for o in outcomes if o["run"] == "retrieved")
