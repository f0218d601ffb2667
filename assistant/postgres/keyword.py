"""Keyword retrieval in PostgreSQL: GIN candidates, BM25 scored in SQL.

Each chunk row holds its stemmed terms as a ``tsvector`` (positions 1..tf, so the term
frequency is the number of positions; the query's terms are picked out of it in C with
``setweight`` + ``ts_filter`` rather than unnesting every term) and its length;
``assistant.terms`` holds each term's document frequency and ``assistant.collections`` N and
the total length, all updated by the transaction that commits a document (catalog.py). Each
candidate is scored exactly as bm25s scored it (search/bm25.py), with today's statistics.

Only chunks that hold at least one query term can score, but a common term ("said") is in a
good part of a newsroom's archive, and scoring all of those would grow with the archive. So
the GIN index is asked for the chunks holding the query's rare terms (as many of the rarest
as hold about CANDIDATES postings together), which are scored with all the query's terms. A
chunk holding none of them scores less than the sum of the common terms' weights (each term's
factor is below its weight): when the k-th candidate beats that sum, the ranking is exact.
When it does not (few rare terms, or none), the chunks that hold several common terms at once
are added (an AND of as many as keeps the expected count near CANDIDATES): those are the ones
that could rank (a chunk with a single common word among the top k would be a weak keyword
match anyway); they are scored in a second query that leaves out the chunks already scored.
Only when that still gives fewer than k chunks (a small index, or filters that leave little)
are all chunks with any of the terms scored. So the work per question is bounded by
CANDIDATES, not by the archive.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

from llama_index.core.schema import NodeWithScore

from assistant.index.store import Store, date_int
from assistant.postgres.db import database
from assistant.search import bm25
from assistant.search.keyword import node_for
from assistant.search.recency import parse_iso
from assistant.settings import Settings
from assistant.types import Filters

CANDIDATES = 1000  # postings of the rare terms scored in full (and the aim for the AND part)

_SCORE = """
SELECT c.chunk_id, s.score FROM assistant.chunks c
CROSS JOIN LATERAL (
    SELECT sum(q.w * (array_length(u.positions, 1)::float8 / (array_length(u.positions, 1)
               + %(k1)s * (1 - %(b)s + %(b)s * c.length / %(avgdl)s)))) AS score
    FROM unnest(ts_filter(setweight(c.terms, 'A', %(terms)s::text[]), '{{a}}')) AS u
    JOIN unnest(%(terms)s::text[], %(weights)s::float8[]) AS q(term, w) ON q.term = u.lexeme
) s
WHERE c.collection = %(collection)s AND c.terms @@ %(query)s::tsquery {filters}
ORDER BY s.score DESC, c.chunk_id
LIMIT %(k)s
"""


def tsquery(terms: list[str], op: str = "|") -> str:
    return f" {op} ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)


def _together(common: list[tuple[str, float, int]], n: int) -> int:
    """How many of the common terms (rarest first) to AND so that, were they independent,
    about CANDIDATES chunks hold them all (at least two, when there are two)."""
    expected, m = float(n), 0
    for _, _, df in common:
        expected *= df / n
        m += 1
        if m >= 2 and expected <= CANDIDATES:
            break
    return m


class PgKeywordIndex:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.db = database(settings)
        self.name = settings.index.collection
        self._lock = threading.Lock()
        self._idf: dict[str, float | None] = {}
        self._revision = -1

    def _stats(self, conn: Any, terms: list[str]) -> tuple[int, int, dict[str, int]]:
        row = conn.execute(
            "SELECT chunks, total_length, revision FROM assistant.collections WHERE name = %s",
            (self.name,),
        ).fetchone()
        n, total, revision = (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, -1)
        dfs = dict(
            conn.execute(
                "SELECT term, df FROM assistant.terms "
                "WHERE collection = %s AND term = ANY(%s) AND df > 0",
                (self.name, terms),
            ).fetchall()
        )
        with self._lock:
            if revision != self._revision:
                self._idf.clear()
                self._revision = revision
            for t in terms:
                df = dfs.get(t, 0)
                self._idf[t] = bm25.idf(df, n) if df and n else None
        return n, total, dfs

    def search(self, query: str, k: int, filters: Filters | None) -> list[NodeWithScore]:
        terms = bm25.analyze(query)
        if not terms or k <= 0:
            return []
        times = Counter(terms)
        with self.db.connection() as conn:
            n, total, dfs = self._stats(conn, list(times))
            if not n or not dfs:
                return []
            # (term, weight, df), rarest first. A chunk's score from a term is below the
            # term's weight (its frequency factor is below 1).
            q = sorted(
                ((t, c * bm25.idf(dfs[t], n), dfs[t]) for t, c in times.items() if t in dfs),
                key=lambda x: (x[2], x[0]),
            )
            params: dict[str, Any] = {
                "k1": bm25.K1,
                "b": bm25.B,
                "avgdl": total / n,
                "terms": [t for t, _, _ in q],
                "weights": [w for _, w, _ in q],
                "collection": self.name,
                "k": k,
            }
            sql = _SCORE.format(filters=_filters(filters, params))
            rare, postings = 0, 0
            while rare < len(q) and postings + q[rare][2] <= CANDIDATES:
                postings += q[rare][2]
                rare += 1
            rows: list[tuple[str, float]] = []
            rare_q = tsquery([t for t, _, _ in q[:rare]])
            if rare:
                params["query"] = rare_q
                rows = conn.execute(sql, params).fetchall()
            common = q[rare:]
            bound = sum(w for _, w, _ in common)  # the best a chunk with no rare term can do
            if common and not (len(rows) == k and rows[-1][1] > bound):
                # Not provably complete: add the chunks that hold the most common terms
                # together (an AND of as many as keeps the expected count within bounds),
                # but no rare term (those are scored already). Fewer than k such chunks (a
                # small index, narrow filters): AND fewer terms, then any term at all.
                words = [t for t, _, _ in common]
                m = _together(common, n)  # 0 below: any of them
                while True:
                    part = tsquery(words[:m], "&") if m else tsquery(words)
                    params["query"] = f"({part}) & !({rare_q})" if rare else part
                    more = conn.execute(sql, params).fetchall()
                    if len(rows) + len(more) >= k or m == 0:
                        break
                    m -= 1
                rows = sorted(rows + more, key=lambda r: (-r[1], r[0]))[:k]
            found = dict(
                (cid, (text, meta))
                for cid, text, meta in conn.execute(
                    "SELECT chunk_id, text, meta FROM assistant.chunks "
                    "WHERE collection = %s AND chunk_id = ANY(%s)",
                    (self.name, [r[0] for r in rows]),
                ).fetchall()
            )
        return [
            NodeWithScore(node=node_for(cid, *found[cid]), score=float(score))
            for cid, score in rows
            if cid in found
        ]

    def idf(self, term: str) -> float | None:
        with self._lock:
            if term in self._idf:
                return self._idf[term]
        with self.db.connection() as conn:
            self._stats(conn, [term])
        with self._lock:
            return self._idf.get(term)

    def newest_date(self) -> date | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT max(pub_int) FROM assistant.chunks WHERE collection = %s", (self.name,)
            ).fetchone()
        return parse_iso(str(row[0])) if row and row[0] else None

    def warm_up(self) -> None:
        with self.db.connection() as conn:
            conn.execute("SELECT 1")


def _filters(f: Filters | None, params: dict[str, Any]) -> str:
    if not f:
        return ""
    where = []
    if f.since:
        params["since"] = date_int(f.since)
        where.append("AND c.pub_int >= %(since)s")
    if f.until:
        params["until"] = date_int(f.until)
        where.append("AND c.pub_int > 0 AND c.pub_int <= %(until)s")
    if f.sources:
        params["sources"] = list(f.sources)
        where.append("AND c.source = ANY(%(sources)s)")
    if f.exclude_docs:
        params["exclude_docs"] = list(f.exclude_docs)
        where.append("AND c.doc_id <> ALL(%(exclude_docs)s)")
    return " ".join(where)
