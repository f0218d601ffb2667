"""Incremental, consistent ingestion: unchanged skipped, changed replaced, gone pruned."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.index.store import IndexBusy, IndexMismatch
from tests.support.samples import make_settings

ARTICLE = """Flood Warning Issued for River Town

The river authority said on Tuesday, March 7, 2023 that the river would crest above flood stage.
Residents near the embankment were told to move valuables upstairs and prepare to leave.
The mayor said shelters would open at the school and the community hall.
"""


def _chunk_ids(a: Assistant) -> list[str]:
    return sorted(a.store.chunks.get(include=[])["ids"])


def test_reingest_skips_unchanged_replaces_changed_prunes_gone(
    tmp_path: Path, corpus_dir: Path
) -> None:
    (corpus_dir / "flood.txt").write_text(ARTICLE, encoding="utf-8")
    a = Assistant(make_settings(tmp_path))
    first = a.ingest()
    assert (first.files_read, first.docs_added, first.skipped) == (3, 3, [])
    assert first.chunks_added == a.store.count() > 0
    before = _chunk_ids(a)

    again = a.ingest()
    assert again.files_unchanged == 3 and again.files_read == 0
    assert again.chunks_added == again.chunks_removed == 0
    assert _chunk_ids(a) == before

    (corpus_dir / "flood.txt").write_text(ARTICLE.replace("school", "stadium"), encoding="utf-8")
    changed = a.ingest()
    assert (changed.files_read, changed.docs_updated, changed.docs_added) == (1, 1, 0)
    assert changed.chunks_removed == changed.chunks_added > 0
    assert a.store.count() == len(before)
    flood = next(d for d in a.documents() if d["source"] == "flood.txt")
    assert "stadium" in a.store.doc_texts([flood["doc_id"]])[flood["doc_id"]]
    hits = a.retrieve("where will shelters open?")
    assert any("stadium" in h.chunk.text for h in hits)
    assert not any("school" in h.chunk.text for h in hits)

    (corpus_dir / "flood.txt").unlink()
    kept = a.ingest()  # without --prune nothing is removed
    assert kept.docs_removed == 0 and a.store.doc_count() == 3
    pruned = a.ingest(prune=True)
    assert pruned.docs_removed == 1 and pruned.chunks_removed > 0
    assert {d["source"] for d in a.documents()} == {
        "000_7f57f19b72752444.txt",
        "004_b2e554588cd8baa4.txt",
    }
    assert all(m["doc_id"] != flood["doc_id"] for m in a.store.iter_chunk_metadata())


def test_bad_files_are_reported_and_skipped_rest_indexed(tmp_path: Path, corpus_dir: Path) -> None:
    (corpus_dir / "empty.txt").write_text("", encoding="utf-8")
    (corpus_dir / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (corpus_dir / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    (corpus_dir / "broken.json").write_text('{"title": "x", "text": ', encoding="utf-8")
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (corpus_dir / "notes.xyz").write_text("unsupported", encoding="utf-8")
    (corpus_dir / "ok.md").write_text(ARTICLE, encoding="utf-8")
    a = Assistant(make_settings(tmp_path))
    report = a.ingest()
    reasons = dict(report.skipped)
    assert set(reasons) == {
        "empty.txt",
        "binary.txt",
        "broken.json",
        "broken.pdf",
        "notes.xyz",
    }
    assert all(reason.strip() for reason in reasons.values())
    assert "unsupported" in reasons["notes.xyz"]
    assert report.docs_added == 4  # the two articles, ok.md and latin1.txt (read as cp1252)
    assert "skipped binary.txt" in report.summary()


def test_interrupted_ingestion_is_repaired_by_the_next_run(
    tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (corpus_dir / "flood.txt").write_text(ARTICLE, encoding="utf-8")
    a = Assistant(make_settings(tmp_path))
    from llama_index.vector_stores.chroma import ChromaVectorStore

    real_add = ChromaVectorStore.add
    calls = {"n": 0}

    def dying_add(self, nodes, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            # Documents are written in batches: half a batch lands, then the crash.
            assert len(nodes) > 2
            real_add(self, nodes[: len(nodes) // 2 + 1], **kw)
            raise KeyboardInterrupt
        return real_add(self, nodes, **kw)

    monkeypatch.setattr(ChromaVectorStore, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        a.ingest()
    monkeypatch.setattr(ChromaVectorStore, "add", real_add)

    fresh = Assistant(make_settings(tmp_path))
    fresh.ingest()
    reference = Assistant(make_settings(tmp_path / "ref"))
    reference.settings.index.corpus_dir = corpus_dir
    reference.ingest()
    assert _chunk_ids(fresh) == _chunk_ids(reference)
    assert fresh.store.doc_count() == 3
    assert all(r.get("hash") != "pending" for r in fresh.store.doc_records().values())


def test_index_built_with_other_settings_is_a_clear_error(tmp_path: Path, corpus_dir: Path) -> None:
    Assistant(make_settings(tmp_path)).ingest()
    other = Assistant(make_settings(tmp_path, chunk_size=120, chunk_overlap=10))
    with pytest.raises(IndexMismatch, match=r"chunk_size: index has 200, settings say 120") as e:
        other.ask("What support did NATO pledge?")
    assert "--rebuild" in str(e.value)
    report = other.ingest(rebuild=True)
    assert report.docs_added == 2
    assert other.ask("What support did NATO pledge to Ukraine?").answered


def test_second_writer_is_refused(tmp_path: Path, corpus_dir: Path) -> None:
    a = Assistant(make_settings(tmp_path))
    with a.store.write_lock(), pytest.raises(IndexBusy, match="Another ingestion"):
        Assistant(make_settings(tmp_path)).ingest()


def test_chunks_respect_token_budget_and_offsets(sample_assistant: Assistant) -> None:
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    chunks = sample_assistant.store.all_chunks()
    texts = sample_assistant.store.doc_texts([c.doc_id for c, _ in chunks])
    for chunk, meta in chunks:
        assert len(enc.encode(chunk.text)) <= sample_assistant.settings.index.chunk_size
        assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
        assert meta["title"] and meta["source"]
        assert "HealthyLine" not in chunk.text and "Leave a Reply" not in chunk.text


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    a = Assistant(make_settings(tmp_path))
    with pytest.raises(FileNotFoundError, match="no such file"):
        a.ingest([tmp_path / "nope"])


def test_the_same_relative_index_path_in_two_folders_is_two_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chromadb caches a client per path string: a relative index_dir must not make a second
    folder's index reuse the first one's (it did, after a chdir, in one process)."""
    from assistant.app import Assistant
    from assistant.settings import Settings

    counts = []
    for name, files in (("one", 1), ("two", 2)):
        folder = tmp_path / name
        (folder / "corpus").mkdir(parents=True)
        for i in range(files):
            (folder / "corpus" / f"{i}.txt").write_text(
                f"Story {i} of {name}\n\nThe council met on Monday about the bridge {i}.",
                encoding="utf-8",
            )
        monkeypatch.chdir(folder)
        a = Assistant(Settings(index_dir=Path("index"), corpus_dir=Path("corpus")))
        a.ingest()
        counts.append(len(a.documents()))
    assert counts == [1, 2]
    assert (tmp_path / "two" / "index" / "chroma.sqlite3").is_file()
