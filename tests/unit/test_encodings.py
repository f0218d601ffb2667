"""Text files a newsroom has that are not UTF-8 (issue 22): Windows-1252 and Latin-1 are read
and the document says which encoding was used; binary stays refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.index.readers import ReadError, read_file
from assistant.settings import Settings

STORY = (
    "Café Owners Protest Rent Rise\n\n"
    "The owners of the Café Müller said on Monday, 6 May 2024 that the “naïve” rent review "
    "would close six cafés – a fifth of the street – before the summer season begins.\n"
)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_text_file_in_a_windows_or_latin_encoding_is_read(tmp_path: Path, encoding: str) -> None:
    text = STORY if encoding == "cp1252" else STORY.replace("“", '"').replace("”", '"')
    text = text.replace("–", "-") if encoding == "latin-1" else text
    path = tmp_path / "story.txt"
    path.write_bytes(text.encode(encoding))
    (source,) = read_file(path, tmp_path)
    assert "Café Müller" in source.text and "naïve" in source.text
    assert source.extra["encoding"] == "cp1252"  # what "Latin-1" files nearly always are


def test_the_index_records_how_the_file_was_read(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_bytes(STORY.encode("cp1252"))
    a = Assistant(Settings(index_dir=tmp_path / "index", corpus_dir=corpus))
    report = a.ingest()
    assert report.docs_added == 1, report.summary()
    (doc,) = a.documents()
    assert doc["encoding"] == "cp1252"


def test_binary_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(bytes(range(1, 256)) * 40)
    with pytest.raises(ReadError):
        read_file(path, tmp_path)
