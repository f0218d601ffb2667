"""Upload names from clients can never write outside the upload folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.uploads import UnsafeUploadName, clean_upload_name, safe_upload_path


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/etc/cron.d/job.txt", "job.txt"),
        ("C:\\Users\\me\\Desktop\\notes.md", "notes.md"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("sub/../../x.txt", "x.txt"),
        (".bashrc", "bashrc"),  # leading dots would hide it from ingestion
        ("...txt", "txt"),
        ("line\nbreak\r.txt", "linebreak.txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("bell\x07\x1b[31mred.txt", "bell[31mred.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override hides the suffix
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("  spaced name .txt  ", "spaced name .txt"),
        ("trailing dots...", "trailing dots"),
        ("Cafe\u0301.txt", "Café.txt"),  # NFC: one spelling per name
        ("报告.docx", "报告.docx"),
    ],
)
def test_names_are_cleaned_to_one_component(tmp_path: Path, name: str, stored: str) -> None:
    path = safe_upload_path(tmp_path / "uploads", name)
    assert path.name == stored
    assert path.parent == (tmp_path / "uploads").resolve()
    path.write_text("ok", encoding="utf-8")  # and it is really writable there
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [stored]


@pytest.mark.parametrize(
    "name", ["", " ", ".", "..", "...", "../", "a/..", "/", "\\", "\x00", "\u202e", "./.", ". ."]
)
def test_empty_and_dot_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeUploadName, match="empty"):
        safe_upload_path(tmp_path, name)


def test_long_names_are_cut_keeping_the_suffix() -> None:
    name = clean_upload_name("é" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 255
    assert clean_upload_name("x" * 400).startswith("x") and len(clean_upload_name("x" * 400)) == 255


def test_a_symlink_or_folder_in_the_way_is_refused(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    os.symlink(tmp_path / "outside.txt", uploads / "trap.txt")
    with pytest.raises(UnsafeUploadName, match="not a regular file"):
        safe_upload_path(uploads, "trap.txt")
    (uploads / "folder.txt").mkdir()
    with pytest.raises(UnsafeUploadName, match="not a regular file"):
        safe_upload_path(uploads, "../folder.txt")
    assert not (tmp_path / "outside.txt").exists()


def test_the_reason_is_a_value_error_for_4xx_handlers() -> None:
    with pytest.raises(ValueError):
        clean_upload_name("..")
