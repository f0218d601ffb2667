"""The `assistant` command, driven in-process through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.fronts.cli import app
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION

runner = CliRunner()


@pytest.fixture
def index(tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # corpus/ of the temp dir is the default corpus
    idx = tmp_path / "idx"
    r = runner.invoke(app, ["ingest", "--index", str(idx)])
    assert r.exit_code == 0, r.output
    assert "2 added" in r.output
    return idx


def test_ask_json_prints_the_contract(index: Path) -> None:
    r = runner.invoke(app, ["ask", NATO_QUESTION, "--json", "--index", str(index)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["answered"] is True and d["question"] == NATO_QUESTION
    assert len(d["citations"]) >= 3


def test_ask_readable_lists_numbered_sources(index: Path) -> None:
    r = runner.invoke(app, ["ask", NATO_QUESTION, "--index", str(index), "--top-k", "4"])
    assert r.exit_code == 0, r.output
    assert "Sources:" in r.stdout and "[1] " in r.stdout
    assert "DEBUG" not in r.output, "libraries' debug logs stay quiet at the default level"
    assert "(2023-11-27)" in r.stdout


def test_batch_prints_one_object_per_line(index: Path, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"question": NATO_QUESTION})
        + "\n\n"
        + json.dumps({"question": TAIWAN_QUESTION})
        + "\nnot json\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["ask", "--batch", str(batch), "--index", str(index)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row.get("answered") for row in rows[:2]] == [True, False]
    assert rows[2] == {"line": 4, "error": 'expected a JSON object with a string "question"'}


def test_date_filters(index: Path) -> None:
    r = runner.invoke(
        app, ["ask", NATO_QUESTION, "--json", "--index", str(index), "--since", "2023-01-01"]
    )
    d = json.loads(r.stdout)
    assert {c["published"] for c in d["citations"]} == {"2023-11-27"}
    assert {x["source"] for x in d["retrieved"]} == {"000_7f57f19b72752444.txt"}
    r = runner.invoke(app, ["ask", NATO_QUESTION, "--index", str(index), "--until", "yesterday"])
    assert r.exit_code == 2 and "not a date" in r.output


def test_errors_are_one_line_not_tracebacks(tmp_path: Path, index: Path) -> None:
    r = runner.invoke(app, ["ask", NATO_QUESTION, "--index", str(tmp_path / "empty")])
    assert r.exit_code == 1
    assert "is empty: run `assistant ingest` first" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["ingest", str(tmp_path / "missing"), "--index", str(index)])
    assert r.exit_code == 1 and "no such file" in r.output
    r = runner.invoke(app, ["ask", "--index", str(index)])
    assert r.exit_code == 2


def test_settings_shows_effective_values_with_env_and_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assistant.toml").write_text("top_k = 5\nchunk_size = 180\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_API_TOKEN", "s3cret-token")
    r = runner.invoke(app, ["settings"])
    assert r.exit_code == 0, r.output
    assert "top_k = 7" in r.stdout  # env beats the file
    assert "chunk_size = 180" in r.stdout  # the file beats the default
    assert "# api_token: from the environment only (ASSISTANT_API_TOKEN, set)" in r.stdout
    assert "s3cret-token" not in r.stdout


def test_invalid_setting_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "zero")
    r = runner.invoke(app, ["settings"])
    assert r.exit_code == 2
    assert "top_k" in r.output and "Traceback" not in r.output


def test_a_refusal_says_what_the_documents_mention_and_what_they_do_not(
    index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The overlap reader rates any unit with the question's words; a high bar makes it refuse.
    monkeypatch.setenv("ASSISTANT_READER_THRESHOLD", "0.99")
    r = runner.invoke(app, ["ask", "When did Finland join NATO?", "--index", str(index)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())  # wrapped to the terminal's width
    assert "mentions Finland and NATO but not when Finland joined NATO." in text
    assert "The closest passage, in “" in text  # the document that came nearest, by title
