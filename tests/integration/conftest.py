"""Integration fixtures. The live intake's: a loopback web site the tests write
(tests/support/news_site.py), and assistants allowed to fetch from it (loopback is refused
unless fetch_allow_hosts names it), with their state in the index or in PostgreSQL.
PostgreSQL's: one real server per run (tests/support/postgres.py), a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app import Assistant
from tests.support.news_site import Site, web_settings
from tests.support.postgres import binaries, new_database, postgres_server
from tests.support.servers import chroma_server


@pytest.fixture
def site() -> Iterator[Site]:
    with Site().running() as s:
        yield s


@pytest.fixture(params=["local", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path, no_network: list[object]) -> Assistant:
    """An assistant on an empty index that may fetch from loopback, and from nowhere else
    (``no_network`` turns any other connection into a failure); its live state (feeds, items
    and pages seen) in the index, then in PostgreSQL."""
    if request.param == "local":
        return Assistant(web_settings(tmp_path))
    url = request.getfixturevalue("database_url")
    a = Assistant(web_settings(tmp_path, database_url=url))
    assert type(a.live_state).__name__ == "PgLiveState"
    return a


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if binaries() is None:
        pytest.skip(
            "PostgreSQL is not installed: apt-get install postgresql-15 (.ci/run does) to run "
            "the database tests"
        )
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
    """A Chroma server for the module's tests."""
    with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url
