"""The CLI behaves as a newcomer expects (issue 22): a version, `open N` after `ask --json`,
`assistant settings` output that works as a config file, config errors that name the file,
and a taken port said plainly before anything is printed."""

from __future__ import annotations

import json
import socket
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.fronts.cli import app
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION

runner = CliRunner()


@pytest.fixture
def index(tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    idx = tmp_path / "idx"
    assert runner.invoke(app, ["ingest", "--index", str(idx)]).exit_code == 0
    return idx


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"newsroom-assistant {version('newsroom-assistant')}"


def test_open_after_ask_json_opens_that_answers_source(index: Path) -> None:
    runner.invoke(app, ["ask", NATO_QUESTION, "--index", str(index)])  # an earlier answer
    r = runner.invoke(app, ["ask", TAIWAN_QUESTION, "--json", "--index", str(index)])
    assert json.loads(r.stdout)["answered"] is False
    r = runner.invoke(app, ["open", "1", "--index", str(index)])
    assert r.exit_code == 2 and "no source [1] in the last answer" in r.output


def test_settings_output_round_trips_as_a_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_API_TOKEN", "a-secret-token-1234")
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", "postgresql://u:pw-5678@db.example/news")
    shown = runner.invoke(app, ["settings"])
    assert shown.exit_code == 0, shown.output
    assert "a-secret-token-1234" not in shown.stdout and "pw-5678" not in shown.stdout
    assert "# api_token: from the environment only (ASSISTANT_API_TOKEN, set)" in shown.stdout
    assert "# chroma_url = (not set)" in shown.stdout
    (tmp_path / "assistant.toml").write_text(shown.stdout, encoding="utf-8")
    again = runner.invoke(app, ["settings"])  # the same environment, now with the file
    assert again.exit_code == 0, again.output
    assert again.stdout == shown.stdout


def test_a_config_error_names_the_file_and_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "assistant.toml"
    config.write_text("top_k = 5\nchroma_url = null\n", encoding="utf-8")
    r = runner.invoke(app, ["settings"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "assistant.toml" in r.output and "line 2" in r.output
    config.write_text("top_k = 0\n", encoding="utf-8")
    r = runner.invoke(app, ["settings"])
    assert r.exit_code == 2 and "top_k" in r.output and "assistant.toml" in r.output


def test_a_taken_port_is_said_plainly_before_the_banner(index: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = runner.invoke(app, ["serve", "--index", str(index), "--port", str(port)])
    assert r.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in r.output and "--port" in r.output
    assert "Web UI" not in r.output


@pytest.mark.parametrize("command", ["ask", "ingest", "watch", "eval", "serve", "feeds"])
def test_help_shows_what_a_value_looks_like_not_python_types(command: str) -> None:
    r = runner.invoke(app, [command, "--help"])
    assert r.exit_code == 0, r.output
    for noise in ("<bool>", "<str>", "list[", "<path>", "<int"):
        assert noise not in r.stdout, (command, noise)
    if command == "watch":
        assert "--top-k" not in r.stdout  # nothing is retrieved while watching
