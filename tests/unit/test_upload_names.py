"""Hostile upload names never write outside the upload folder (safe_upload_path)."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from assistant.errors import UploadRejected as UploadError
from assistant.index.uploads import safe_upload_path

HOSTILE = [
    "../../etc/passwd",
    "/etc/cron.d/job.txt",
    "C:\\Users\\me\\Desktop\\notes.md",
    "..\\..\\boot.ini",
    "sub/../../x.txt",
    "...txt",
    "line\nbreak\r.txt",
    "nul\x00byte.txt",
    "bell\x07\x1b[31mred.txt",
    "evil\u202etxt.exe",  # right-to-left override disguises the suffix
    "zero\u200bwidth.txt",
    "  spaced name .txt  ",
    "trailing dots...",
    "Cafe\u0301.txt",
    "报告.docx",
    "x" * 400 + ".pdf",
    "é" * 300,
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_become_one_plain_child(tmp_path: Path, name: str) -> None:
    uploads = tmp_path / "uploads"
    path = safe_upload_path(uploads, name)
    assert path.parent == uploads.resolve()
    assert path.name not in ("", ".", "..") and not path.name.startswith(".")
    assert not any(unicodedata.category(ch).startswith("C") for ch in path.name)
    assert "/" not in path.name and "\\" not in path.name
    assert len(path.name.encode()) <= 255
    path.write_text("ok", encoding="utf-8")  # really writable there, and nowhere else
    assert [p.name for p in uploads.iterdir()] == [path.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]


@pytest.mark.parametrize("name", ["", " ", ".", "..", "../", "a/..", "/", "\\", "\x00", ". ."])
def test_empty_and_dot_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UploadError, match="unusable file name") as exc:
        safe_upload_path(tmp_path, name)
    assert exc.value.status == 422


def test_a_symlink_or_folder_in_the_way_is_refused(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    os.symlink(tmp_path / "outside.txt", uploads / "trap.txt")
    with pytest.raises(UploadError, match="is not a file"):
        safe_upload_path(uploads, "trap.txt")
    (uploads / "folder.txt").mkdir()
    with pytest.raises(UploadError, match="is not a file"):
        safe_upload_path(uploads, "../folder.txt")
    assert not (tmp_path / "outside.txt").exists()
