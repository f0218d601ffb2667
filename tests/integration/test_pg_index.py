"""With database_url: records, keyword index and sessions in PostgreSQL, vectors in Chroma.

The keyword statistics (document frequencies, N, total length) are kept by each commit; the
tests recount them from the chunk rows after every kind of change and compare.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from assistant.app import Assistant
from assistant.index.catalog import Claim
from assistant.settings import Settings
from tests.support.corpusgen import write_corpus
from tests.support.postgres import pg_settings
from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS

FLOOD = """Flood Warning Issued for River Town

The river authority said on Tuesday, March 7, 2023 that the Wendle river would crest above
flood stage. Residents near the embankment were told to move valuables upstairs.
The mayor said emergency shelters would open at the Wendle stadium and the community hall.
"""
FLOOD_QUESTION = "Where will the emergency shelters open in the Wendle flood?"


def recount(url: str, collection: str = "newsroom") -> dict[str, Any]:
    """The statistics as a full recount from the chunk rows sees them, and as kept."""
    with psycopg.connect(url) as conn:
        kept_df = dict(
            conn.execute(
                "SELECT term, df FROM assistant.terms WHERE collection = %s AND df <> 0",
                (collection,),
            ).fetchall()
        )
        true_df = dict(
            conn.execute(
                "SELECT u.lexeme, count(*) FROM assistant.chunks c, unnest(c.terms) u "
                "WHERE c.collection = %s GROUP BY 1",
                (collection,),
            ).fetchall()
        )
        kept = conn.execute(
            "SELECT documents, chunks, total_length FROM assistant.collections WHERE name = %s",
            (collection,),
        ).fetchone()
        true = conn.execute(
            "SELECT (SELECT count(*) FROM assistant.documents WHERE collection = %s), "
            "count(*), coalesce(sum(length), 0) FROM assistant.chunks WHERE collection = %s",
            (collection, collection),
        ).fetchone()
        queued = conn.execute("SELECT count(*) FROM assistant.queue").fetchone()[0]
    return {"df": (kept_df, true_df), "counts": (tuple(kept), tuple(true)), "queued": queued}


def assert_consistent(url: str, a: Assistant) -> None:
    r = recount(url)
    assert r["df"][0] == r["df"][1]
    assert r["counts"][0] == r["counts"][1]
    assert r["queued"] == 0
    # Chroma holds exactly the chunks the records say.
    ids = sorted(a.store.chunks.get(include=[])["ids"])
    want = sorted(f"{d}:{i}" for d, m in a.store.doc_records().items() for i in range(m["chunks"]))
    assert ids == want


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"


def test_ingest_ask_update_prune(database_url: str, tmp_path: Path, corpus: Path) -> None:
    a = Assistant(pg_settings(tmp_path, database_url))
    assert a.ingest().docs_added == 2
    assert_consistent(database_url, a)
    answer = a.ask(NATO_QUESTION)
    assert answer.answered and answer.citations
    assert any(h.lexical is not None for h in answer.retrieved)  # the keyword side took part
    assert not (tmp_path / "index" / "keyword").exists()  # no local keyword index
    assert a.ingest().files_unchanged == 2

    (corpus / "flood.txt").write_text(FLOOD, encoding="utf-8")
    assert a.ingest().docs_added == 1
    seen = a.ask(FLOOD_QUESTION)
    assert seen.answered and {c.source for c in seen.citations} == {"flood.txt"}
    flood = [h for h in seen.retrieved if h.chunk.source == "flood.txt"]
    assert flood[0].lexical is not None and flood[0].dense is not None
    assert_consistent(database_url, a)

    (corpus / "flood.txt").write_text(FLOOD.replace("stadium", "arena"), encoding="utf-8")
    assert a.ingest().docs_updated == 1
    assert "arena" in a.ask(FLOOD_QUESTION).answer
    assert_consistent(database_url, a)

    (corpus / "flood.txt").unlink()
    report = a.ingest(prune=True)
    assert report.docs_removed == 1 and report.chunks_removed > 0
    assert not any(c.source == "flood.txt" for c in a.ask(FLOOD_QUESTION).citations)
    assert_consistent(database_url, a)
    assert a.health()["documents"] == 2
    assert {d["source"] for d in a.documents()} == {p.name for p in corpus.iterdir()}

    assert a.ingest(rebuild=True).docs_added == 2
    assert_consistent(database_url, a)
    assert a.ask(NATO_QUESTION).answer == answer.answer


def test_a_one_file_ingest_reads_no_other_record(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.postgres.catalog import PgCatalog

    write_corpus(tmp_path / "corpus", 12, paragraphs=2)
    a = Assistant(pg_settings(tmp_path, database_url))
    a.ingest()
    asked: list[Any] = []
    real = PgCatalog.records

    def records(self: PgCatalog, doc_ids: Any = None, files: Any = None) -> Any:
        assert doc_ids is not None or files is not None, "a full listing of the records"
        asked.append(doc_ids or files)
        return real(self, doc_ids, files)

    monkeypatch.setattr(PgCatalog, "records", records)
    (tmp_path / "flood.txt").write_text(FLOOD, encoding="utf-8")
    assert a.ingest([tmp_path / "flood.txt"]).docs_added == 1
    assert asked and all(len(keys) == 1 for keys in asked)  # that file's, that doc's records
    monkeypatch.undo()
    assert_consistent(database_url, a)


def test_sessions_are_shared_by_every_process(database_url: str, tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    settings = pg_settings(tmp_path, database_url)
    one = Assistant(settings)  # type: ignore[arg-type]
    one.ingest()
    two = Assistant(settings)  # type: ignore[arg-type]  # another replica
    session = one.new_session()
    first = one.ask(NATO_QUESTION, session=session)
    assert first.session_id == session
    follow = two.ask("And what did he say about China?", session=session)
    assert "following: What support did NATO pledge to Ukraine?" in follow.standalone_question
    assert [t.question for t in one.conversation(session)] == [
        NATO_QUESTION,
        "And what did he say about China?",
    ]
    assert not (tmp_path / "index" / "sessions").exists()


def test_a_commit_that_fails_leaves_the_work_queued(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.postgres.catalog import PgCatalog

    write_corpus(tmp_path / "corpus", 6, paragraphs=2)
    a = Assistant(pg_settings(tmp_path, database_url, ingest_batch_chunks=4))
    real = PgCatalog.commit
    calls = {"n": 0}

    def failing(self: PgCatalog, claim: Claim) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        real(self, claim)

    monkeypatch.setattr(PgCatalog, "commit", failing)
    with pytest.raises(RuntimeError):
        a.ingest()
    assert recount(database_url)["queued"] > 0  # rolled back: still queued
    monkeypatch.setattr(PgCatalog, "commit", real)
    # The next run works the queue off even when it is given nothing to read.
    (tmp_path / "empty").mkdir()
    report = a.ingest([tmp_path / "empty"])
    assert report.files_seen == 0 and report.docs_added + report.docs_updated > 0
    assert a.health()["documents"] == 6
    assert_consistent(database_url, a)


def test_keyword_scores_match_the_local_index(database_url: str, tmp_path: Path) -> None:
    """Same corpus, both backends: the same chunks in the same order with the same scores,
    filters included; and the same as a search that makes every term essential."""
    from assistant.types import Filters

    write_corpus(tmp_path / "corpus", 24, paragraphs=3)
    pg = Assistant(pg_settings(tmp_path, database_url))
    pg.ingest()
    local = Assistant(Settings(index_dir=tmp_path / "local", corpus_dir=tmp_path / "corpus"))
    local.ingest()
    queries = [
        ("bridge repairs in Ashford council vote", None),
        ("teachers budgets funding proposal said", Filters(since="2023-05-10")),
        ("storm flood roads traffic", Filters(until="2023-05-05")),
        ("harbour fishermen quotas weather", Filters(sources=["002_corwen.txt"])),
        ("nothing matches zzyzx", None),
    ]
    first = local.retriever.keyword.search(queries[0][0], 3, None)
    left_out = sorted({h.node.metadata["doc_id"] for h in first})
    queries.append((queries[0][0], Filters(exclude_docs=left_out)))
    for query, filters in queries:
        want = ranking(local.retriever.keyword.search(query, 15, filters))
        got = ranking(pg.retriever.keyword.search(query, 15, filters))
        assert [score for score, _, _ in got] == [score for score, _, _ in want], query
        last = want[-1][0] if want else 0
        # Equal scores (generated text repeats itself) may come in either order at the cut.
        assert [g[1:] for g in got if g[0] > last] == [w[1:] for w in want if w[0] > last]
        if filters and filters.exclude_docs:
            assert got and not {g[1].split(":")[0] for g in got} & set(left_out)
    for term in ("bridg", "said", "zzyzx"):
        assert pg.retriever.idf(term) == pytest.approx(local.retriever.idf(term))
    assert pg.retriever.newest_date() == local.retriever.newest_date()


def ranking(hits: list[Any]) -> list[tuple[float, str, str]]:
    """(score, chunk id, text + metadata) best first, scores rounded past float noise."""
    rows = [
        (
            round(h.score, 6),
            h.node.node_id,
            h.node.get_content() + repr(sorted(h.node.metadata.items())),
        )
        for h in hits
    ]
    return sorted(rows, key=lambda r: (-r[0], r[1]))


def test_a_bounded_candidate_set_keeps_the_head_and_the_scores(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for only a few postings, the work is bounded and still every hit carries its
    exact score, and the best hits are the exact ranking's."""
    from assistant.postgres import keyword as pgk

    write_corpus(tmp_path / "corpus", 24, paragraphs=3)
    a = Assistant(pg_settings(tmp_path, database_url))
    a.ingest()
    query = "Ashford bridge repairs council plan vote spending review county said"
    exact = {h.node.node_id: h.score for h in a.retriever.keyword.search(query, 200, None)}
    monkeypatch.setattr(pgk, "CANDIDATES", 12)
    statements: list[str] = []
    real = psycopg.Connection.execute

    def counting(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        statements.append(str(query))
        return real(self, query, *args, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", counting)
    got = a.retriever.keyword.search(query, 10, None)
    assert len(got) == 10
    for h in got:
        assert h.score == pytest.approx(exact[h.node.node_id], rel=1e-9)
    best = sorted(exact.items(), key=lambda kv: -kv[1])
    assert [h.node.node_id for h in got[:3]] == [cid for cid, _ in best[:3]]
    assert sum("CROSS JOIN LATERAL" in s for s in statements) >= 2  # rare terms, then an AND
