"""Compressed formats are bounded by what they unpack to, not by their size on disk: a small
.docx that inflates to tens of millions of characters is refused before it is parsed.
Security review, finding 3."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from assistant.index import readers
from assistant.index.readers import ReadError, read_file

RUN = "<w:p><w:r><w:t>{}</w:t></w:r></w:p>"


def docx_with_body(path: Path, xml_paragraphs: str) -> Path:
    """A real .docx (python-docx's template) whose document body is replaced."""
    buf = io.BytesIO()
    docx.Document().save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                head, _, rest = data.decode().partition("<w:body>")
                data = (head + "<w:body>" + xml_paragraphs + rest).encode()
            out.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


def test_a_docx_bomb_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = docx_with_body(tmp_path / "bomb.docx", RUN.format("A" * 1000) * 40_000)
    assert bomb.stat().st_size < 200_000  # far under every file-size limit
    parsed: list[str] = []
    real = docx.Document
    monkeypatch.setattr(docx, "Document", lambda p: parsed.append(p) or real(p))
    with pytest.raises(ReadError, match="unpacks to"):
        read_file(bomb, tmp_path)
    assert not parsed, "the package was parsed before its unpacked size was checked"


def test_extracted_text_is_capped_for_every_unpacking_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_TEXT_CHARS", 50_000)
    long_one = docx_with_body(
        tmp_path / "long.docx",
        "".join(RUN.format(f"Paragraph {i} of a long report.") for i in range(3000)),
    )
    with pytest.raises(ReadError, match="text too long"):
        read_file(long_one, tmp_path)


def test_an_ordinary_docx_still_reads(tmp_path: Path) -> None:
    path = docx_with_body(
        tmp_path / "ok.docx", RUN.format("The council approved the budget on Monday.")
    )
    (source,) = read_file(path, tmp_path)
    assert "approved the budget" in source.text
