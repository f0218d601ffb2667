"""Upload names and limits (the API and the UI share them), without a server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.errors import UploadRejected as UploadError
from assistant.index.uploads import check_upload, safe_name
from assistant.settings import Settings


@pytest.mark.parametrize(
    ("given", "saved"),
    [
        ("report.PDF", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("/abs/path/notes.txt", "notes.txt"),
        (".hidden.txt", "hidden.txt"),
        ("my report (final).docx", "my_report_final_.docx"),
        ("Überblick.txt", "Überblick.txt"),
        ("a" * 300 + ".txt", "a" * 116 + ".txt"),
    ],
)
def test_names_stay_inside_the_upload_folder(given: str, saved: str, tmp_path: Path) -> None:
    name = safe_name(given)
    assert name == saved
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("given", ["", "..", "/", "...", "../", "\\"])
def test_unusable_names_are_refused(given: str) -> None:
    with pytest.raises(UploadError, match="unusable file name"):
        safe_name(given)


def test_type_and_size_limits(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "i", corpus_dir=tmp_path / "c", max_file_mb=1)
    assert check_upload("a.txt", 1000, settings) == "a.txt"
    for name in ("run.exe", "photo.jpg", "noext", "a.meta.json"):
        with pytest.raises(UploadError, match="unsupported file type") as exc:
            check_upload(name, 10, settings)
        assert exc.value.status == 415
    with pytest.raises(UploadError, match="file too large") as exc:
        check_upload("big.pdf", 2 * 1024 * 1024, settings)
    assert exc.value.status == 413
    with pytest.raises(UploadError, match="empty") as exc:
        check_upload("a.txt", 0, settings)
    assert exc.value.status == 422


def test_a_wrong_declared_size_does_not_get_past_the_limit(tmp_path: Path) -> None:
    from assistant.index.uploads import _copy_limited

    with pytest.raises(UploadError, match="too large"):
        _copy_limited(io.BytesIO(b"x" * 2000), tmp_path / "f", 1000, "f.txt")
