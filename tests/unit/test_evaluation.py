"""`assistant eval` on a tiny generated benchmark: document-level ranks, the table, errors.
(Whether its answers are given is the real model's call: tests/integration/test_eval_runs.py.)"""

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
from tests.support.tinyqa import write_dataset

runner = CliRunner()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tinyqa")


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
