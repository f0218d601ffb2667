"""`assistant eval` on a tiny generated benchmark: ingestion, document-level ranks, answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.evaluation.runner import (
    DatasetError,
    QuestionResult,
    contains_gold,
    load_questions,
    resolve_dataset,
    score,
)
from assistant.fronts.cli import app
from tests.support.tinyqa import ARTICLES, QUESTIONS, write_dataset

runner = CliRunner()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tinyqa")


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


def test_eval_table_and_misses(dataset: Path, tmp_path: Path) -> None:
    # A question whose gold document is not in the corpus is a miss and is listed as one.
    with (dataset / "dev.jsonl").open("a", encoding="utf-8") as f:
        q5 = {"qid": "q5", "question": "Who won the chess title?", "answer_text": "Zebulon",
              "gold_doc_ids": ["not-there"]}  # fmt: skip
        f.write(json.dumps(q5) + "\n")
    r = runner.invoke(app, ["eval", str(dataset), "--index", str(tmp_path / "idx"), "--misses"])
    assert r.exit_code == 0, r.output
    assert "| hits@1 | 0.800 |" in r.stdout
    assert "| mrr@10 | 0.800 |" in r.stdout
    # Its answer lacks the gold answer too: no article says it (the gold one is not indexed).
    assert "q5 rank >10; answer lacks 'Zebulon': label: Who won the chess title?" in r.stdout
    assert "| label: the gold article never says the gold answer in those words | 1 |" in r.stdout
    assert "q1 " not in r.stdout


def test_eval_errors_are_clear(tmp_path: Path, dataset: Path) -> None:
    r = runner.invoke(app, ["eval", str(tmp_path / "nope")])
    assert r.exit_code == 1 and "no dataset at" in r.output and "Traceback" not in r.output
    r = runner.invoke(
        app, ["eval", str(dataset), "--split", "test", "--index", str(tmp_path / "i")]
    )
    assert r.exit_code == 1 and "no split file test.jsonl (splits here: dev)" in r.output
    (dataset / "dev.jsonl").write_text('{"question": "no gold?"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 1: no gold_doc_ids or gold_urls"):
        load_questions(dataset / "dev.jsonl")


def test_a_bare_name_is_found_under_shared_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(tmp_path / "shared" / "datasets" / "tinyqa")
    checkout = tmp_path / "work" / "repo"
    checkout.mkdir(parents=True)
    monkeypatch.chdir(checkout)
    assert resolve_dataset("tinyqa") == tmp_path / "shared" / "datasets" / "tinyqa"


def test_contains_gold_strips_quotes_and_case() -> None:
    assert contains_gold("It is “squid game” season 2", [], "“Squid Game”")
    assert contains_gold("nothing here", ["He said 'Don’t Look Up' won"], '"don\'t look up"')
    assert not contains_gold("Squid", ["Game"], "Squid Game")
    assert not contains_gold("anything", [], "“”")


def test_score_is_document_level_mrr() -> None:
    def row(rank: int | None, answered: bool = True) -> QuestionResult:
        return QuestionResult("q", "?", None, rank, answered, False, "", 1.0, 1.0, [], [])

    m = score([row(1), row(2), row(7), row(None, answered=False)])
    assert m["hits@1"] == 0.25 and m["hits@5"] == 0.5 and m["hits@10"] == 0.75
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 7) / 4)
    assert m["answered"] == 0.75


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
