"""Connections to the database: one pool per process and URL, opened on first use.

Short statements (keyword search, records, sessions) borrow a pooled connection in
autocommit mode. What must outlive a statement gets a connection of its own: the writer's
advisory lock (held for a whole ingestion) and each claimed batch of the queue (a transaction
holding its rows' locks until the batch is committed).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant.errors import ConfigError, IndexUnavailable
from assistant.settings import Settings

POOL_SIZE = 16
CONNECT_TIMEOUT = 10
_lock = threading.Lock()
_databases: dict[str, Database] = {}


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "database_url needs PostgreSQL support: pip install 'newsroom-assistant[postgres]'"
        ) from None
    return psycopg


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.where = safe_url(url)
        self._pool: Any = None
        self._checked = False
        self._lock = threading.Lock()

    def _unavailable(self, exc: Exception) -> IndexUnavailable:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return IndexUnavailable(f"The database at {self.where} is unavailable: {first}")

    def connect(self, autocommit: bool = True) -> Any:
        """A connection of its own (the caller closes it)."""
        psycopg = _psycopg()
        try:
            return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from None

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled autocommit connection for a few statements."""
        psycopg = _psycopg()
        pool = self._open()
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from None

    def _open(self) -> Any:
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                _psycopg()
                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=POOL_SIZE,
                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                    timeout=CONNECT_TIMEOUT,
                    name="assistant",
                    open=True,
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_schema(self) -> None:
        """Refuse to run on tables older (or newer) than this code: say what to do."""
        if self._checked:
            return
        from assistant.postgres.schema import LATEST, current_version

        # A connection of its own: an unreachable server fails at once, not after the pool's
        # wait for a connection.
        conn = self.connect()
        try:
            found = current_version(conn)
        finally:
            conn.close()
        if found != LATEST:
            state = "has no assistant tables" if found == 0 else f"is at schema {found}"
            raise IndexUnavailable(
                f"The database at {self.where} {state}; this version needs {LATEST}: run "
                "`assistant db upgrade`."
                if found < LATEST
                else f"The database at {self.where} {state}, newer than this version "
                f"({LATEST}): upgrade the assistant."
            )
        self._checked = True


def database(settings: Settings) -> Database:
    url = settings.index.database_url
    if not url:
        raise ConfigError("database_url is not set")
    with _lock:
        db = _databases.get(url)
        if db is None:
            db = _databases[url] = Database(url)
        return db
