"""`assistant db upgrade` creates the tables once; the app refuses a database without them, or
one it cannot reach, with a message that says what to do; the URL's password never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.errors import IndexUnavailable
from assistant.settings import Settings
from tests.support.postgres import pg_settings
from tests.support.servers import cli_env, free_port, run_cli


def test_upgrade_is_idempotent_from_the_command_line(bare_database: str, tmp_path: Path) -> None:
    env = cli_env(database_url=bare_database)
    first = run_cli(["db", "upgrade"], tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert "applied 1: documents" in first.stdout and "up to date" in first.stdout
    again = run_cli(["db", "upgrade"], tmp_path, env)
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout and "already up to date" in again.stdout


def test_a_database_without_tables_is_a_clear_error(bare_database: str, tmp_path: Path) -> None:
    env = cli_env(database_url=bare_database, index_dir=str(tmp_path / "index"))
    r = run_cli(["ask", "What happened?"], tmp_path, env)
    assert r.returncode == 1
    assert "has no assistant tables" in r.stderr and "`assistant db upgrade`" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(IndexUnavailable, match="db upgrade"):
        Assistant(pg_settings(tmp_path, bare_database)).ask("What happened?")


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    a = Assistant(pg_settings(tmp_path, url))
    with pytest.raises(IndexUnavailable, match="unavailable") as exc:
        a.ask("What happened?")
    assert "s3cret-pw" not in str(exc.value) and "postgres:***@127.0.0.1" in str(exc.value)


def test_db_upgrade_needs_a_database_url(tmp_path: Path) -> None:
    r = run_cli(["db", "upgrade"], tmp_path, cli_env())
    assert r.returncode == 2 and "database_url is not set" in r.stderr


def test_the_password_in_the_url_is_masked_and_redacted() -> None:
    s = Settings(database_url="postgresql://news:pa55word@db.example:5432/newsroom")
    assert s.public_dict()["database_url"] == "postgresql://news:***@db.example:5432/newsroom"
    assert "pa55word" in s.secrets()  # so logging redacts it
    with pytest.raises(ValueError, match="postgresql://"):
        Settings(database_url="mysql://x@y/z")
