"""The catalog in PostgreSQL: records, keyword postings, the shared queue, the writer lock.

- **Commit last, in one transaction.** A claimed batch's documents are written to Chroma
  first (deterministic ids ``<doc_id>:<n>``, old ones deleted), then one transaction replaces
  their keyword rows, adjusts the term document frequencies and the collection's counts
  (N, total length: what BM25 needs, kept current instead of recomputed), writes the records
  and removes the batch from the queue. A kill before the commit leaves the queue rows, so the
  next worker redoes the batch; redoing rewrites the same Chroma ids.
- **One queue for every machine.** ``assistant ingest`` plans its files into
  ``assistant.queue`` (one row per document, its cleaned text included, so any machine can do
  the work) and then claims batches with ``SELECT ... FOR UPDATE SKIP LOCKED``: a row is held
  by exactly one worker's open transaction until that transaction commits the document and
  deletes the row, and a dead worker's rows are free again the moment its connection drops.
  A claimed row whose document was already committed with the same hash (two machines
  planned the same file) is dropped, so each document is embedded and written once.
- **The writer lock is an advisory lock** on a connection held for the run: shared by
  ingestions (they cooperate through the queue), exclusive for a rebuild.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from assistant.errors import IndexBusy, IndexUnavailable
from assistant.index.catalog import Chunker, Claim, WorkItem, iter_pages
from assistant.postgres.db import database
from assistant.search import bm25
from assistant.settings import Settings
from assistant.types import Source

log = logging.getLogger(__name__)
CLAIM_ROWS = 16  # most queue rows locked per round trip while filling a batch
_RECORD = "d.record || jsonb_build_object('hash', d.hash, 'chunks', d.chunks, 'file', d.file)"
NODE_META = ("title", "published", "doc_id", "source", "url", "start", "end", "pub_int")


def lock_key(collection: str) -> int:
    return bm25.key64(f"assistant-writer:{collection}") - (1 << 63)  # a signed bigint


def tsvector_literal(counts: Counter[str]) -> str:
    """Terms with as many positions as occurrences: PostgreSQL keeps the term frequency."""
    parts = []
    for term, tf in counts.items():
        lexeme = term.replace("\\", "\\\\").replace("'", "''")
        positions = ",".join(str(p) for p in range(1, min(tf, bm25.MAX_TF) + 1))
        parts.append(f"'{lexeme}':{positions}")
    return " ".join(parts)


class PgCatalog:
    def __init__(self, settings: Settings, location: str) -> None:
        self.settings = settings
        self.db = database(settings)
        self.db.check_schema()
        self.name = settings.index.collection
        self.location = location
        self._lock_conn: Any = None
        self._planned: dict[tuple[str, str], list[Any]] = {}  # (doc_id, hash) -> its chunks
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO assistant.collections (name, epoch) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (self.name, uuid.uuid4().hex),
            )

    # --- reading ----------------------------------------------------------------------------
    def records(
        self,
        doc_ids: list[str] | None = None,
        files: list[str] | None = None,
        where: dict[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        from psycopg.types.json import Jsonb

        sql = f"SELECT d.doc_id, {_RECORD} FROM assistant.documents d WHERE d.collection = %s"
        args: list[Any] = [self.name]
        if where:
            sql += " AND d.record @> %s"
            args.append(Jsonb(nul_free(where)))
        out: dict[str, dict[str, Any]] = {}
        with self.db.connection() as conn:
            if doc_ids is None and files is None:
                out.update(dict(conn.execute(sql, args).fetchall()))
                return out
            column, values = ("doc_id", doc_ids) if doc_ids is not None else ("file", files)
            for page in iter_pages(list(dict.fromkeys(values or [])), 1000):
                rows = conn.execute(f"{sql} AND d.{column} = ANY(%s)", [*args, page])
                out.update(dict(rows.fetchall()))
        return out

    def update_records(self, records: dict[str, dict[str, Any]]) -> None:
        from psycopg.types.json import Jsonb

        rows = [
            (nul_free(str(m.get("file", ""))), Jsonb(nul_free(_bare(m))), self.name, doc_id)
            for doc_id, m in records.items()
        ]
        with self.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "UPDATE assistant.documents SET file = %s, record = %s "
                "WHERE collection = %s AND doc_id = %s",
                rows,
            )

    def texts(self, doc_ids: list[str]) -> dict[str, str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc_id, text FROM assistant.documents "
                "WHERE collection = %s AND doc_id = ANY(%s)",
                (self.name, list(dict.fromkeys(doc_ids))),
            )
            return dict(rows.fetchall())

    def _counts(self) -> tuple[int, int]:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT documents, chunks FROM assistant.collections WHERE name = %s", (self.name,)
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def doc_count(self) -> int:
        return self._counts()[0]

    def chunk_count(self) -> int | None:
        return self._counts()[1]

    def state(self) -> tuple[str, str]:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT epoch, revision FROM assistant.collections WHERE name = %s", (self.name,)
            ).fetchone()
        return (str(row[0]), str(row[1])) if row else ("gone", "0")

    def reopen(self) -> None:
        return None

    # --- the writer lock --------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, exclusive: bool) -> Iterator[None]:
        conn = self.db.connect()
        try:
            fn = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
            got = conn.execute(f"SELECT {fn}(%s)", (lock_key(self.name),)).fetchone()[0]
            if not got:
                raise IndexBusy(
                    f"Ingestions are writing to collection {self.name!r} in {self.db.where}; "
                    "a rebuild needs it to itself: wait for them to finish and run again."
                    if exclusive
                    else f"A rebuild of collection {self.name!r} in {self.db.where} is running; "
                    "wait for it to finish and run again."
                )
            dropping = conn.execute(
                "SELECT dropping FROM assistant.collections WHERE name = %s", (self.name,)
            ).fetchone()
            if dropping and dropping[0] and not exclusive:
                raise IndexUnavailable(
                    f"A rebuild of collection {self.name!r} was interrupted: run "
                    "`assistant ingest --rebuild` to finish it."
                )
            self._lock_conn = conn
            yield
        finally:
            self._lock_conn = None
            self._planned.clear()
            conn.close()  # ends the session, and with it the advisory lock

    def check_writer(self) -> None:
        conn = self._lock_conn
        if conn is None:
            return
        try:
            conn.execute("SELECT 1")
        except Exception:
            raise IndexBusy(
                f"The connection holding the writer lock on {self.db.where} was lost; this "
                "ingestion stopped. Run it again."
            ) from None

    # --- the queue --------------------------------------------------------------------------
    def pending(self) -> list[WorkItem]:
        return []  # the queue itself is what a killed run left: claimed again like the rest

    def enqueue(self, items: list[WorkItem]) -> None:
        from psycopg.types.json import Jsonb

        for item in items:
            if item.nodes is not None:
                self._planned[(item.doc_id, str(item.record.get("hash", "")))] = item.nodes
        rows = [
            (
                self.name,
                i.doc_id,
                i.op,
                str(i.record.get("hash", "")),
                Jsonb(nul_free(i.to_payload())),
            )
            for i in items
        ]
        # Work already queued is left alone (never waiting for a worker that holds its row);
        # a queued row for another version of the document is brought up to date.
        insert = (
            "INSERT INTO assistant.queue (collection, doc_id, op, hash, payload) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (collection, doc_id) DO NOTHING"
        )
        update = (
            "UPDATE assistant.queue SET op = %s, hash = %s, payload = %s, "
            "queued_at = clock_timestamp() WHERE collection = %s AND doc_id = %s AND hash <> %s"
        )
        with self.db.connection() as conn:
            for page in iter_pages(rows, 200):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(insert, page)
                stale = {
                    row[0]
                    for row in conn.execute(
                        "SELECT q.doc_id FROM assistant.queue q "
                        "JOIN unnest(%s::text[], %s::text[]) AS v(doc_id, hash) "
                        "ON q.doc_id = v.doc_id WHERE q.collection = %s AND q.hash <> v.hash",
                        ([r[1] for r in page], [r[3] for r in page], self.name),
                    )
                }
                for name, doc_id, op, hash_, payload in (r for r in page if r[1] in stale):
                    changed = conn.execute(update, (op, hash_, payload, name, doc_id, hash_))
                    if changed.rowcount == 0:  # gone meanwhile (its worker committed it)
                        conn.execute(insert, (name, doc_id, op, hash_, payload))

    def claim(self, max_chunks: int, chunk: Chunker) -> Claim | None:
        conn = self.db.connect(autocommit=False)
        items: list[WorkItem] = []
        seen: list[str] = []
        size = 0
        try:
            while size < max_chunks:
                # Rows this transaction already holds are not skipped: leave them out.
                rows = conn.execute(
                    "SELECT doc_id, op, hash, payload FROM assistant.queue "
                    "WHERE collection = %s AND doc_id <> ALL(%s) "
                    "ORDER BY queued_at LIMIT %s FOR UPDATE SKIP LOCKED",
                    (self.name, seen, _rows_that_fit(max_chunks - size, size, len(items))),
                ).fetchall()
                if not rows:
                    break
                seen += [r[0] for r in rows]
                committed = dict(
                    conn.execute(
                        "SELECT doc_id, hash FROM assistant.documents "
                        "WHERE collection = %s AND doc_id = ANY(%s)",
                        (self.name, [r[0] for r in rows]),
                    ).fetchall()
                )
                for doc_id, op, hash_, payload in rows:
                    if op == "upsert" and committed.get(doc_id) == hash_:
                        # Another worker wrote this very version meanwhile.
                        conn.execute(
                            "DELETE FROM assistant.queue WHERE collection = %s AND doc_id = %s",
                            (self.name, doc_id),
                        )
                        continue
                    item = WorkItem.from_payload(doc_id, payload)
                    if item.op == "upsert":
                        item.nodes = self._planned.pop((doc_id, hash_), None)
                        if item.nodes is None:
                            chunk(item)
                    items.append(item)
                    size += len(item.nodes or ())
            if not items:
                conn.commit()  # the rows dropped above
                conn.close()
                return None
        except BaseException:
            conn.close()
            raise
        return Claim(items, handle=conn)

    def begin(self, claim: Claim) -> None:
        return None  # the claimed queue rows are the intent: they stay until commit

    def commit(self, claim: Claim) -> None:
        conn = claim.handle
        try:
            self._write(conn, claim.items)
            conn.commit()
        finally:
            conn.close()
        log.debug("committed %s", " ".join(i.doc_id for i in claim.items))

    def release(self, claim: Claim) -> None:
        conn = claim.handle
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                conn.rollback()
            conn.close()

    def _write(self, conn: Any, items: list[WorkItem]) -> None:
        from psycopg.types.json import Jsonb

        ids = sorted({i.doc_id for i in items})
        key = (self.name, ids)
        old_df = Counter(
            dict(
                conn.execute(
                    "SELECT u.lexeme, count(*) FROM assistant.chunks c, unnest(c.terms) u "
                    "WHERE c.collection = %s AND c.doc_id = ANY(%s) GROUP BY u.lexeme",
                    key,
                ).fetchall()
            )
        )
        old_n, old_len = conn.execute(
            "SELECT count(*), coalesce(sum(length), 0) FROM assistant.chunks "
            "WHERE collection = %s AND doc_id = ANY(%s)",
            key,
        ).fetchone()
        old_docs = conn.execute(
            "SELECT count(*) FROM assistant.documents WHERE collection = %s AND doc_id = ANY(%s)",
            key,
        ).fetchone()[0]
        conn.execute("DELETE FROM assistant.chunks WHERE collection = %s AND doc_id = ANY(%s)", key)
        new_df: Counter[str] = Counter()
        new_len = 0
        upserts = [i for i in items if i.op == "upsert" and i.source is not None]
        with conn.cursor().copy(
            "COPY assistant.chunks (collection, chunk_id, doc_id, text, meta, pub_int, source, "
            "length, terms) FROM STDIN"
        ) as copy:
            for item in upserts:
                for node in item.nodes or ():
                    counts, length = bm25.term_counts(node)
                    new_df.update(counts.keys())
                    new_len += length
                    m = node.metadata
                    meta = {k: m[k] for k in NODE_META if m.get(k) is not None}
                    copy.write_row(
                        (
                            self.name,
                            node.node_id,
                            item.doc_id,
                            nul_free(node.get_content()),
                            Jsonb(nul_free(meta)),
                            int(m.get("pub_int") or 0),
                            nul_free(str(m.get("source", ""))),
                            length,
                            tsvector_literal(counts),
                        )
                    )
        delta = {t: new_df.get(t, 0) - old_df.get(t, 0) for t in set(new_df) | set(old_df)}
        changed = sorted((t, d) for t, d in delta.items() if d)
        if changed:
            # In term order, so concurrent committers lock shared term rows in one order.
            conn.execute(
                "INSERT INTO assistant.terms (collection, term, df) "
                "SELECT %s, t, d FROM unnest(%s::text[], %s::int[]) AS x(t, d) ORDER BY t "
                "ON CONFLICT (collection, term) "
                "DO UPDATE SET df = assistant.terms.df + EXCLUDED.df",
                (self.name, [t for t, _ in changed], [d for _, d in changed]),
            )
        conn.execute(
            "DELETE FROM assistant.documents WHERE collection = %s AND doc_id = ANY(%s)", key
        )
        if upserts:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO assistant.documents "
                    "(collection, doc_id, file, hash, chunks, record, text) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            self.name,
                            i.doc_id,
                            nul_free(str(i.record.get("file", ""))),
                            str(i.record.get("hash", "")),
                            len(i.nodes or ()),
                            Jsonb(nul_free(_bare(i.record))),
                            _text(i.source),
                        )
                        for i in upserts
                    ],
                )
        conn.execute("DELETE FROM assistant.queue WHERE collection = %s AND doc_id = ANY(%s)", key)
        new_n = sum(len(i.nodes or ()) for i in upserts)
        conn.execute(
            "UPDATE assistant.collections SET revision = revision + 1, "
            "documents = documents + %s, chunks = chunks + %s, total_length = total_length + %s "
            "WHERE name = %s",
            (len(upserts) - old_docs, new_n - old_n, new_len - old_len, self.name),
        )

    def move(self, src: Source, record: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        rec = _bare(record)
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE assistant.documents SET file = %s, record = %s "
                "WHERE collection = %s AND doc_id = %s",
                (nul_free(str(rec.get("file", ""))), Jsonb(nul_free(rec)), self.name, src.doc_id),
            )

    # --- rebuilding -------------------------------------------------------------------------
    def drop_records(self) -> None:
        with self.db.connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE assistant.collections SET dropping = true, revision = revision + 1, "
                "documents = 0, chunks = 0, total_length = 0 WHERE name = %s",
                (self.name,),
            )
            for table in ("documents", "chunks", "terms", "queue"):
                conn.execute(f"DELETE FROM assistant.{table} WHERE collection = %s", (self.name,))

    def dropped(self) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE assistant.collections SET dropping = false, epoch = %s, "
                "revision = revision + 1 WHERE name = %s",
                (uuid.uuid4().hex, self.name),
            )


def _bare(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what the columns hold (hash, chunks: kept by the commits)."""
    return {k: v for k, v in record.items() if k not in ("hash", "chunks")}


def _rows_that_fit(room: int, size: int, docs: int) -> int:
    """How many more documents to lock: as many as fit in ``room`` chunks at the size of those
    claimed so far (one to start with), so a batch rarely holds rows it will not write."""
    if not docs:
        return 1
    per_doc = max(1.0, size / docs)
    return max(1, min(CLAIM_ROWS, int(room / per_doc)))


def _text(src: Source | None) -> str:
    return "" if src is None else nul_free(src.text)


def nul_free(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL: one stand-in character each, so citation
    offsets into the text stay right."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {k: nul_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nul_free(v) for v in value]
    return value
