"""The tables, as numbered migrations; ``assistant db upgrade`` applies the missing ones.

Everything lives in the schema ``assistant``. A migration is applied once, in a transaction,
under an advisory lock, so upgrading twice (or from two machines at once) is harmless. Add
new tables or columns as a new numbered entry; never edit an applied one.
"""

from __future__ import annotations

from typing import Any

from assistant.postgres.db import Database

_MIGRATION_LOCK = 0x61737369  # pg_advisory_xact_lock key for upgrades ("assi")

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "documents, chunks and their keyword postings, term statistics, queue, sessions",
        """
CREATE TABLE assistant.collections (
    name text PRIMARY KEY,
    epoch text NOT NULL,                        -- changes when the collection is rebuilt
    revision bigint NOT NULL DEFAULT 0,         -- changes with every committed batch
    documents bigint NOT NULL DEFAULT 0,
    chunks bigint NOT NULL DEFAULT 0,           -- N of BM25
    total_length bigint NOT NULL DEFAULT 0,     -- sum of chunk lengths: avgdl = total / N
    dropping boolean NOT NULL DEFAULT false     -- a rebuild began and has not finished
);
CREATE TABLE assistant.documents (
    collection text NOT NULL,
    doc_id text NOT NULL,
    file text NOT NULL DEFAULT '',
    hash text NOT NULL,
    chunks integer NOT NULL DEFAULT 0,
    record jsonb NOT NULL,
    text text NOT NULL,                         -- what citation offsets refer to
    PRIMARY KEY (collection, doc_id)
);
CREATE INDEX documents_by_file ON assistant.documents (collection, file);
CREATE INDEX documents_by_field ON assistant.documents USING gin (record jsonb_path_ops);
CREATE TABLE assistant.chunks (
    collection text NOT NULL,
    chunk_id text NOT NULL,
    doc_id text NOT NULL,
    text text NOT NULL,
    meta jsonb NOT NULL,
    pub_int integer NOT NULL DEFAULT 0,
    source text NOT NULL DEFAULT '',
    length integer NOT NULL,                    -- terms counted by BM25
    terms tsvector NOT NULL,                    -- stemmed terms; positions count occurrences
    PRIMARY KEY (collection, chunk_id)
);
CREATE INDEX chunks_by_doc ON assistant.chunks (collection, doc_id);
CREATE INDEX chunks_by_date ON assistant.chunks (collection, pub_int);
CREATE INDEX chunks_terms ON assistant.chunks USING gin (terms);
CREATE TABLE assistant.terms (
    collection text NOT NULL,
    term text NOT NULL,
    df integer NOT NULL,                        -- chunks holding the term
    PRIMARY KEY (collection, term)
);
CREATE TABLE assistant.queue (
    collection text NOT NULL,
    doc_id text NOT NULL,
    op text NOT NULL,
    hash text NOT NULL DEFAULT '',
    payload jsonb NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (collection, doc_id)
);
CREATE INDEX queue_in_order ON assistant.queue (collection, queued_at);
CREATE TABLE assistant.sessions (
    id text PRIMARY KEY,
    turns jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
""",
    ),
    (
        2,
        "live intake state: feeds followed, items and pages seen, robots.txt",
        """
CREATE TABLE assistant.live (
    collection text NOT NULL,
    kind text NOT NULL,                         -- 'feed' or 'seen'
    key text NOT NULL,
    feed text NOT NULL DEFAULT '',              -- an item's feed, a feed's own URL
    record jsonb NOT NULL,
    PRIMARY KEY (collection, kind, key)
);
CREATE INDEX live_by_feed ON assistant.live (collection, feed);
""",
    ),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Any) -> int:
    found = conn.execute("SELECT to_regclass('assistant.schema_version') IS NOT NULL").fetchone()
    if not found[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM assistant.schema_version").fetchone()
    return int(row[0])


def upgrade(db: Database) -> list[str]:
    """Apply the migrations the database lacks; returns them ("1: ..."), [] if up to date."""
    done: list[str] = []
    with db.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS assistant")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS assistant.schema_version ("
            "version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {r[0] for r in conn.execute("SELECT version FROM assistant.schema_version")}
        for version, name, sql in MIGRATIONS:
            if version in applied:
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO assistant.schema_version (version, name) VALUES (%s, %s)",
                (version, name),
            )
            done.append(f"{version}: {name}")
    db._checked = False
    return done
