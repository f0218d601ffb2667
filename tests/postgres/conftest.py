"""Fixtures of the PostgreSQL tests: one real server per run, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres.pgserver import binaries, new_database, postgres_server
from tests.servers import chroma_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if binaries() is None:
        pytest.skip(
            "PostgreSQL is not installed: apt-get install postgresql-15 (.ci/run does) to run "
            "the database tests"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is missing: pip install -e '.[test]'")
    with postgres_server() as url:
        yield url


@pytest.fixture
def bare_database(pg_server: str) -> str:
    """A database without the assistant's tables."""
    return new_database(pg_server)


@pytest.fixture
def database_url(bare_database: str) -> str:
    """A database with the assistant's tables (``assistant db upgrade`` done)."""
    from assistant.postgres.db import Database
    from assistant.postgres.schema import upgrade

    with Database(bare_database) as db:
        upgrade(db)
    return bare_database


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url


def pg_settings(tmp: Path, database_url: str, **kw: object) -> object:
    from assistant.settings import Settings

    return Settings(
        index_dir=tmp / "index",
        corpus_dir=tmp / "corpus",
        database_url=database_url,
        **kw,  # type: ignore[arg-type]
    )
