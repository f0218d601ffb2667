"""One document that cannot be split into chunks is reported and skipped; the rest of the run
(the corpus beside it, the upload sent with it) is indexed. Security review, finding 2."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import nltk.redos
import pytest

import assistant.index.ingestion as ingestion
from assistant.app import Assistant
from assistant.settings import Settings
from assistant.types import Source

GOOD = """Harbour Road Cycle Lane Approved

The council approved the Harbour Road cycle lane on Monday, May 6, 2024. Work starts in June.
"""


def settings(tmp: Path) -> Settings:
    return Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus")


def one_paragraph(chars: int) -> str:
    body, i = [], 0
    while sum(map(len, body)) < chars:
        i += 1
        body.append(f"The committee met for the {i}th time and read minute {i * 7} aloud. ")
    return "A Very Long Report\n\n" + "".join(body)


def test_a_long_single_paragraph_is_chunked_within_the_splitters_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # nltk bounds every sentence regex by wall-clock time (5 s); a slower or busier machine
    # is simulated by a tighter limit. One splitter call must never see the whole document.
    monkeypatch.setattr(nltk.redos, "DEFAULT_TIMEOUT", 0.5)
    text = one_paragraph(1_000_000)
    src = Source(doc_id="long", source="long.txt", title="A Very Long Report", text=text)
    nodes = ingestion.chunk_sources(ingestion.make_splitter(Settings()), [src])
    assert len(nodes) > 50
    for node in nodes:  # offsets still point at the chunk's own text in the document
        start, end = node.metadata["start"], node.metadata["end"]
        assert text[start:end] == node.text
    assert nodes[-1].metadata["end"] >= len(text) - 100


def test_a_document_the_splitter_fails_on_is_skipped_and_the_rest_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "poison.txt").write_text("Poison\n\nThis one breaks the splitter.\n", "utf-8")
    real = ingestion.chunk_sources

    def splitter_that_raises(splitter: Any, sources: list[Source]) -> Any:
        if any("breaks the splitter" in s.text for s in sources):
            raise TimeoutError("regex time limit exceeded")
        return real(splitter, sources)

    monkeypatch.setattr(ingestion, "chunk_sources", splitter_that_raises)
    report = Assistant(settings(tmp_path)).ingest()
    assert report.docs_added == 1
    skipped = dict(report.skipped)
    assert "poison.txt" in skipped, report.skipped
    assert "TimeoutError" in skipped["poison.txt"] and "split" in skipped["poison.txt"]
    answer = Assistant(settings(tmp_path)).ask("When does work on the Harbour Road lane start?")
    assert answer.citations and answer.citations[0].source == "good.txt"


def test_an_upload_beside_a_bad_one_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingestion.chunk_sources

    def splitter_that_raises(splitter: Any, sources: list[Source]) -> Any:
        if any("breaks the splitter" in s.text for s in sources):
            raise RuntimeError("splitter bug")
        return real(splitter, sources)

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "other.txt").write_text(GOOD.replace("Harbour", "Bay"), "utf-8")
    a = Assistant(settings(tmp_path))
    a.ingest()
    monkeypatch.setattr(ingestion, "chunk_sources", splitter_that_raises)
    poison = b"Poison\n\nThis one breaks the splitter."
    results, report = a.upload(
        [("good.txt", io.BytesIO(GOOD.encode()), None), ("poison.txt", io.BytesIO(poison), None)]
    )
    assert report.docs_added == 1
    by_name = {r.name: r for r in results}
    assert by_name["good.txt"].indexed, results
    assert not by_name["poison.txt"].indexed
    assert "RuntimeError" in (by_name["poison.txt"].reason or "")
