"""Ingestion at scale with the real model: ten thousand small files in a hundred folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from tests.support.samples import make_settings


@pytest.mark.slow
def test_ten_thousand_tiny_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for folder in range(100):
        sub = corpus / f"batch{folder:02d}"
        sub.mkdir(parents=True)
        for i in range(100):
            n = folder * 100 + i
            (sub / f"note{n:05d}.txt").write_text(
                f"Note {n}\n\nCouncil note number {n} about item {n * 7 % 1000}.\n",
                encoding="utf-8",
            )
    (corpus / "batch00" / "broken.json").write_text("{", encoding="utf-8")
    a = Assistant(make_settings(tmp_path))
    report = a.ingest()
    assert report.files_seen == 10_001 and report.docs_added == 10_000
    assert [p for p, _ in report.skipped] == ["batch00/broken.json"]
    assert a.store.doc_count() == 10_000 and a.store.count() == 10_000
    assert (
        report.summary().splitlines()[0] == "files: 10001 seen, 10000 read, 0 unchanged, 1 skipped"
    )
    hits = a.retrieve("council note number 4321")
    assert hits[0].chunk.source == "batch43/note04321.txt"
    again = a.ingest()
    assert again.files_unchanged == 10_000 and again.chunks_added == 0
