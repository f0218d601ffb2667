"""The live intake's state (followed feeds, items and pages seen, robots.txt) in PostgreSQL.

The same ``LiveState`` interface as the Chroma one (live/state.py), one row per record in
``assistant.live``. Claiming a feed is a row lock and a compare-and-set in one transaction,
so replicas on one database poll each feed one at a time without a mutex of their own.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from assistant.live.state import Feed, RobotsInSeen, Seen, _from_dict
from assistant.postgres.catalog import nul_free
from assistant.postgres.db import database
from assistant.settings import Settings

log = logging.getLogger(__name__)


class PgLiveState(RobotsInSeen):
    def __init__(self, settings: Settings) -> None:
        self.db = database(settings)
        self.name = settings.index.collection

    def _put(self, conn: Any, rows: list[tuple[str, str, Any, str]]) -> None:
        from psycopg.types.json import Jsonb

        unique = {(kind, key): (record, feed) for kind, key, record, feed in rows}
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO assistant.live (collection, kind, key, feed, record) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (collection, kind, key) "
                "DO UPDATE SET feed = EXCLUDED.feed, record = EXCLUDED.record",
                [
                    (self.name, kind, nul_free(key), nul_free(feed), Jsonb(nul_free(asdict(r))))
                    for (kind, key), (r, feed) in unique.items()
                ],
            )

    def _records(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute(sql, (self.name, *args)).fetchall()]

    # --- feeds ------------------------------------------------------------------------------
    def feeds(self) -> list[Feed]:
        found = [
            _from_dict(Feed, d)
            for d in self._records(
                "SELECT record FROM assistant.live WHERE collection = %s AND kind = 'feed'", ()
            )
        ]
        return sorted(found, key=lambda f: (f.added, f.url))

    def feed(self, url: str) -> Feed | None:
        found = self._records(
            "SELECT record FROM assistant.live WHERE collection = %s AND kind = 'feed' "
            "AND key = %s",
            (url,),
        )
        return _from_dict(Feed, found[0]) if found else None

    def save_feed(self, feed: Feed) -> None:
        with self.db.connection() as conn:
            self._put(conn, [("feed", feed.url, feed, feed.url)])

    def remove_feed(self, url: str) -> bool:
        with self.db.connection() as conn, conn.transaction():
            gone = conn.execute(
                "DELETE FROM assistant.live WHERE collection = %s AND kind = 'feed' AND key = %s",
                (self.name, url),
            ).rowcount
            conn.execute(
                "DELETE FROM assistant.live WHERE collection = %s AND feed = %s", (self.name, url)
            )
        return bool(gone)

    def _locked_feed(self, conn: Any, url: str) -> Feed | None:
        row = conn.execute(
            "SELECT record FROM assistant.live WHERE collection = %s AND kind = 'feed' "
            "AND key = %s FOR UPDATE",
            (self.name, url),
        ).fetchone()
        return None if row is None else _from_dict(Feed, row[0])

    def claim_feed(
        self, url: str, owner: str, now: float, lease: float, force: bool
    ) -> Feed | None:
        with self.db.connection() as conn, conn.transaction():
            feed = self._locked_feed(conn, url)
            if feed is None or not feed.take_lease(owner, now, lease, force):
                return None
            self._put(conn, [("feed", feed.url, feed, feed.url)])
            return feed

    def release_feed(self, feed: Feed) -> None:
        with self.db.connection() as conn, conn.transaction():
            current = self._locked_feed(conn, feed.url)
            if current is None:
                return  # removed while it was being polled
            if current.lease_owner not in ("", feed.lease_owner):
                log.warning("the lease on feed %s passed to %s", feed.url, current.lease_owner)
            feed.lease_owner, feed.lease_until = "", 0.0
            feed.interval = current.interval  # `feeds add` again may have changed it
            self._put(conn, [("feed", feed.url, feed, feed.url)])

    # --- items, pages and robots.txt ----------------------------------------------------------
    def seen(self, keys: list[str]) -> dict[str, Seen]:
        if not keys:
            return {}
        found = self._records(
            "SELECT record FROM assistant.live WHERE collection = %s AND kind = 'seen' "
            "AND key = ANY(%s)",
            ([nul_free(k) for k in dict.fromkeys(keys)],),
        )
        return {rec.key: rec for rec in (_from_dict(Seen, d) for d in found)}

    def save_seen(self, records: list[Seen]) -> None:
        if records:
            with self.db.connection() as conn, conn.transaction():
                self._put(conn, [("seen", r.key, r, r.feed) for r in records])

    def items_of(self, feed_url: str) -> list[Seen]:
        found = self._records(
            "SELECT record FROM assistant.live WHERE collection = %s AND kind = 'seen' "
            "AND feed = %s",
            (feed_url,),
        )
        return [_from_dict(Seen, d) for d in found]
