"""Where an index's parts live, decided here and nowhere else.

Vectors are always in Chroma (on disk, or a Chroma server with ``chroma_url``). The rest:

- catalog (records, the queue of work, the writer lock): index/local.py, a Chroma collection
  ``<name>-docs`` and a ``flock`` (or a Chroma-server lease) | postgres/catalog.py, tables,
  a ``SKIP LOCKED`` queue and an advisory lock;
- keyword index: search/keyword.py ``Bm25Index``, segments on disk | postgres/keyword.py,
  ``tsvector`` + GIN with BM25 computed in SQL;
- chat sessions: answer/chat.py ``SessionStore``, memory + JSON files | postgres/sessions.py;
- the live intake's state: live/state.py ``ChromaLiveState`` | postgres/live.py.

Left of each bar: local (the default); right: postgres (``database_url`` set).
The app asks ``backend(settings)`` for factories and never looks at which one it got.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.answer.chat import Sessions
    from assistant.index.catalog import Catalog
    from assistant.index.store import Store
    from assistant.live.state import LiveState
    from assistant.search.keyword import KeywordIndex


@dataclass(frozen=True)
class Backend:
    name: str
    catalog: Callable[[Settings, Any, str], Catalog]  # (settings, chroma client, location)
    keyword: Callable[[Store, Settings], KeywordIndex]
    sessions: Callable[[Settings], Sessions]
    live: Callable[[Store], LiveState]  # the live intake's feeds and items seen
    upgrade: Callable[[Settings], list[str]]  # create or migrate what it needs; what it did


def _local_catalog(settings: Settings, client: Any, location: str) -> Catalog:
    from assistant.index.local import LocalCatalog

    return LocalCatalog(settings, client, location)


def _local_keyword(store: Store, settings: Settings) -> KeywordIndex:
    from assistant.search.keyword import Bm25Index

    return Bm25Index(store, settings)


def _local_sessions(settings: Settings) -> Sessions:
    from assistant.answer.chat import SessionStore

    # With a Chroma server the index folder is one machine's: sessions stay in memory.
    folder = None if settings.index.chroma_url else settings.index.index_dir / "sessions"
    return SessionStore(folder)


def _local_live(store: Store) -> LiveState:
    from assistant.live.state import ChromaLiveState

    server = bool(store.settings.index.chroma_url)
    return ChromaLiveState(
        store.client,
        store.settings.index.collection,
        None if server else store.settings.index.index_dir,
        store.location,
    )


def _no_upgrade(settings: Settings) -> list[str]:
    return []


def _pg_catalog(settings: Settings, client: Any, location: str) -> Catalog:
    from assistant.postgres.catalog import PgCatalog

    return PgCatalog(settings, location)


def _pg_keyword(store: Store, settings: Settings) -> KeywordIndex:
    from assistant.postgres.keyword import PgKeywordIndex

    return PgKeywordIndex(store, settings)


def _pg_sessions(settings: Settings) -> Sessions:
    from assistant.postgres.sessions import PgSessionStore

    return PgSessionStore(settings)


def _pg_live(store: Store) -> LiveState:
    from assistant.postgres.live import PgLiveState

    return PgLiveState(store.settings)


def _pg_upgrade(settings: Settings) -> list[str]:
    from assistant.postgres.db import database
    from assistant.postgres.schema import upgrade

    return upgrade(database(settings))


LOCAL = Backend("local", _local_catalog, _local_keyword, _local_sessions, _local_live, _no_upgrade)
POSTGRES = Backend("postgres", _pg_catalog, _pg_keyword, _pg_sessions, _pg_live, _pg_upgrade)


def backend(settings: Settings) -> Backend:
    return POSTGRES if settings.index.database_url else LOCAL
