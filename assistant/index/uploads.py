"""Documents uploaded through the web UI or the API: checked, saved into the corpus, ingested.

Both front ends call ``save_and_ingest`` so they apply the same limits and give the same
reasons. Files land in ``<corpus_dir>/uploads/`` under a sanitised name (never outside that
folder), so a later ``assistant ingest`` of the corpus sees them too and keeps their source ids.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from assistant.app import Assistant
from assistant.index.ingestion import IngestReport, ProgressFactory, file_fingerprint
from assistant.index.readers import SIDECAR_SUFFIX, SUPPORTED_SUFFIXES, is_supported
from assistant.settings import Settings

UPLOAD_SUBDIR = "uploads"
MAX_FILES = 20
MAX_NAME_CHARS = 120
_COPY_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^\w.\-]+")
# One upload at a time: replacing a file and ingesting it must not interleave with another
# upload of the same name.
_lock = threading.Lock()


class UploadError(ValueError):
    """A rejected upload; ``status`` is the HTTP status that describes it."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadResult:
    name: str  # the name it was saved under
    source: str  # its source id in the index, e.g. "uploads/report.pdf"
    indexed: bool
    documents: int = 0
    reason: str | None = None  # why it was not indexed, or what in it was skipped

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def upload_dir(settings: Settings) -> Path:
    return settings.index.corpus_dir / UPLOAD_SUBDIR


def supported_types() -> list[str]:
    return sorted(SUPPORTED_SUFFIXES)


def safe_name(filename: str) -> str:
    """A plain file name for ``filename``: folders dropped, unusual characters replaced, no
    leading dot (hidden files are not ingested), so that it can only name a file in the upload
    folder itself."""
    name = unicodedata.normalize("NFKC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip("._-")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    name = f"{stem[: MAX_NAME_CHARS - len(suffix) - 1]}.{suffix.lower()}" if suffix else stem
    if not name or not stem:
        raise UploadError(f"unusable file name {filename!r}", 422)
    return name[:MAX_NAME_CHARS]


def check_upload(filename: str, size: int | None, settings: Settings) -> str:
    """The name to save ``filename`` under; raises UploadError for a type or size we refuse."""
    name = safe_name(filename)
    if name.lower().endswith(SIDECAR_SUFFIX) or not is_supported(Path(name)):
        suffix = Path(name).suffix or "(none)"
        raise UploadError(
            f"{filename}: unsupported file type {suffix}; use one of "
            + ", ".join(supported_types()),
            415,
        )
    limit = settings.index.max_file_mb * 1024 * 1024
    if size is not None and size > limit:
        raise UploadError(
            f"{filename}: file too large ({size / 1e6:.1f} MB > {settings.index.max_file_mb:g} MB)",
            413,
        )
    if size == 0:
        raise UploadError(f"{filename}: the file is empty", 422)
    return name


def _copy_limited(src: BinaryIO, dest: Path, limit: float, label: str) -> int:
    # The declared size can be missing or wrong; count what is actually written.
    written = 0
    with dest.open("wb") as out:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise UploadError(f"{label}: file too large (> {limit / 1024 / 1024:g} MB)", 413)
            out.write(chunk)
    if written == 0:
        raise UploadError(f"{label}: the file is empty", 422)
    return written


def save_and_ingest(
    assistant: Assistant,
    files: Iterable[tuple[str, BinaryIO, int | None]],
    progress: ProgressFactory | None = None,
) -> tuple[list[UploadResult], IngestReport]:
    """Check every ``(filename, stream, declared size)`` first (nothing is saved if one is
    refused), save them, ingest them, and report per file whether it made it into the index.
    A file the readers reject is removed again, and a file it replaced is put back."""
    settings = assistant.settings
    items = list(files)
    if not items:
        raise UploadError("no file in the upload (send them in the form field 'files')", 422)
    if len(items) > MAX_FILES:
        raise UploadError(f"{len(items)} files in one upload; the limit is {MAX_FILES}", 413)
    names = [check_upload(f, size, settings) for f, _, size in items]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise UploadError("two files would be saved as " + ", ".join(sorted(dupes)), 422)
    folder = upload_dir(settings)
    limit = settings.index.max_file_mb * 1024 * 1024
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for (label, stream, _), name in zip(items, names, strict=True):
                tmp = folder / f".{uuid.uuid4().hex}.part"  # hidden: no ingestion picks it up
                staged.append((tmp, folder / name))
                _copy_limited(stream, tmp, limit, label)
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        backups: dict[Path, Path] = {}
        for tmp, final in staged:
            if not final.resolve().is_relative_to(folder.resolve()):  # belt and braces
                raise UploadError(f"refusing to write outside {folder}", 422)
            if final.exists():
                backups[final] = final.with_name(f".{final.name}.{uuid.uuid4().hex}.bak")
                os.replace(final, backups[final])
            os.replace(tmp, final)
        paths = [final for _, final in staged]
        try:
            report = assistant.ingest(paths, progress=progress)
        except BaseException:
            for path in paths:
                _restore(path, backups.get(path))
            raise
        results = _results(assistant, paths, report)
        for path, result in zip(paths, results, strict=True):
            if result.indexed:
                if path in backups:
                    backups[path].unlink(missing_ok=True)
            else:
                _restore(path, backups.get(path))
    return results, report


def _restore(path: Path, backup: Path | None) -> None:
    path.unlink(missing_ok=True)
    if backup is not None:
        os.replace(backup, path)


def _results(assistant: Assistant, paths: list[Path], report: IngestReport) -> list[UploadResult]:
    records = assistant.store.doc_records()
    corpus = assistant.settings.index.corpus_dir.resolve()
    out = []
    for path in paths:
        key, fp = str(path.resolve()), file_fingerprint(path)
        source = path.resolve().relative_to(corpus).as_posix()
        docs = sum(1 for r in records.values() if r.get("file") == key and r.get("file_hash") == fp)
        reasons = [r for p, r in report.skipped if p == source]
        out.append(
            UploadResult(
                name=path.name,
                source=source,
                indexed=docs > 0,
                documents=docs,
                reason="; ".join(reasons) or (None if docs else "no readable text"),
            )
        )
    return out


def safe_upload_path(folder: Path, name: str) -> Path:
    """Where to store an upload called ``name``: always a plain file directly in ``folder``.

    The name is cleaned by ``safe_name`` (folders, control and invisible characters, leading
    dots gone). Raises ``UploadError`` (a ValueError, status 422) when nothing usable is left
    or when the path is taken by something other than a regular file: a folder, or a symbolic
    link, which could point anywhere. The folder is created if missing; the file is not.
    """
    base = folder.resolve()
    base.mkdir(parents=True, exist_ok=True)
    target = base / safe_name(name)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise UploadError(f"{target.name!r} exists in the upload folder and is not a file", 422)
    if target.resolve().parent != base:  # belt and braces: never outside the folder
        raise UploadError(f"unusable file name {name!r}", 422)
    return target
