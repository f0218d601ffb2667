"""The embedded index stays incremental: ingesting one file touches that file's records and one
new keyword segment, a reader picks the change up without rebuilding anything, and what a
killed run left half-written is redone from the index itself."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant.app import Assistant
from assistant.index.local import LocalCatalog, keyword_folder
from assistant.index.store import Store
from assistant.settings import Settings
from tests.support.corpusgen import write_corpus
from tests.support.samples import NATO_QUESTION, SAMPLE_CORPUS

FLOOD = """Flood Warning Issued for River Town

The river authority said on Tuesday, March 7, 2023 that the Wendle river would crest above
flood stage. The mayor said emergency shelters would open at the Wendle stadium.
"""
FLOOD_QUESTION = "Where will the emergency shelters open in the Wendle flood?"
FLOOD_DAY = "2023-03-07"  # the generated articles are from May: asked in March, they are news


def settings(tmp: Path, **kw: Any) -> Settings:
    return Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus", **kw)


def test_one_file_touches_its_records_and_one_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path / "corpus", 20, paragraphs=3)
    writer = Assistant(settings(tmp_path))
    writer.ingest()
    reader = Assistant(settings(tmp_path))  # a long-lived server on the same index
    assert not reader.ask(FLOOD_QUESTION, as_of=FLOOD_DAY).answered
    before = {s.name: s for s in reader.retriever.keyword._current().segments}  # type: ignore[attr-defined]

    listed: list[Any] = []
    real = LocalCatalog.records

    def records(self: LocalCatalog, doc_ids: Any = None, files: Any = None) -> Any:
        assert doc_ids is not None or files is not None, "a full listing of the records"
        listed.append(doc_ids or files)
        return real(self, doc_ids, files)

    def no_scan(self: Store, page: int = 5000) -> Any:
        raise AssertionError("a pass over every chunk")

    monkeypatch.setattr(LocalCatalog, "records", records)
    monkeypatch.setattr(Store, "iter_chunks", no_scan)
    monkeypatch.setattr(Store, "iter_chunk_metadata", no_scan)
    (tmp_path / "flood.txt").write_text(FLOOD, encoding="utf-8")
    assert writer.ingest([tmp_path / "flood.txt"]).docs_added == 1
    assert listed and all(len(keys) == 1 for keys in listed)

    seen = reader.ask(FLOOD_QUESTION, as_of=FLOOD_DAY)  # a new manifest, no rebuild
    assert seen.answered and {c.source for c in seen.citations} == {"flood.txt"}
    assert any(h.lexical is not None for h in seen.retrieved if h.chunk.source == "flood.txt")
    after = {s.name: s for s in reader.retriever.keyword._current().segments}  # type: ignore[attr-defined]
    kept = set(before) & set(after)
    assert kept and all(after[name] is before[name] for name in kept)  # reused, not reloaded


def test_an_index_without_keyword_segments_gets_them_once(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    Assistant(settings(tmp_path)).ingest()
    folder = keyword_folder(settings(tmp_path))
    shutil.rmtree(folder)  # as an index written before segments existed
    a = Assistant(settings(tmp_path))
    answer = a.ask(NATO_QUESTION)
    assert answer.answered and any(h.lexical is not None for h in answer.retrieved)
    assert (folder / "manifest.json").is_file()
    made = (folder / "manifest.json").stat().st_mtime_ns
    assert Assistant(settings(tmp_path)).ask(NATO_QUESTION).answer == answer.answer
    assert (folder / "manifest.json").stat().st_mtime_ns == made  # not built again


def test_a_half_written_document_is_redone_from_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    (tmp_path / "corpus" / "flood.txt").write_text(FLOOD, encoding="utf-8")
    a = Assistant(settings(tmp_path, ingest_batch_chunks=2))
    real_add = ChromaVectorStore.add
    calls = {"n": 0}

    def dying_add(self: Any, nodes: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the second batch: its records say "pending"
        return real_add(self, nodes, **kw)

    monkeypatch.setattr(ChromaVectorStore, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        a.ingest()
    monkeypatch.undo()
    pending = [d for d, m in a.store.doc_records().items() if m.get("hash") == "pending"]
    assert pending
    # The next run is given another folder: the pending document is still finished.
    (tmp_path / "other").mkdir()
    fresh = Assistant(settings(tmp_path))
    assert fresh.ingest([tmp_path / "other"]).docs_updated >= len(pending)
    records = fresh.store.doc_records()
    assert all(records[d]["hash"] != "pending" for d in pending)
    stored = fresh.store.chunks.get(where={"doc_id": {"$in": pending}}, include=[])["ids"]
    assert len(stored) == sum(int(records[d]["chunks"]) for d in pending)
    # Its file is then recognised as unchanged (only documents never begun are added).
    again = fresh.ingest()
    assert again.docs_updated == 0 and again.files_unchanged >= len(pending)
    assert fresh.store.doc_count() == 3
