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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from assistant.errors import UploadRejected
from assistant.index.ingestion import ProgressFactory
from assistant.index.readers import SIDECAR_SUFFIX, SUPPORTED_SUFFIXES, UPLOAD_SUBDIR, is_supported
from assistant.settings import Settings
from assistant.types import IngestReport, UploadResult

MAX_FILES = 20
MAX_NAME_CHARS = 120
_COPY_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^\w.\-]+")
# One upload at a time: replacing a file and ingesting it must not interleave with another
# upload of the same name.
_lock = threading.Lock()


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
        raise UploadRejected(f"unusable file name {filename!r}")
    return name[:MAX_NAME_CHARS]


def check_upload(filename: str, size: int | None, settings: Settings) -> str:
    """The name to save ``filename`` under; raises UploadRejected for a type or size we refuse."""
    name = safe_name(filename)
    if name.lower().endswith(SIDECAR_SUFFIX) or not is_supported(Path(name)):
        suffix = Path(name).suffix or "(none)"
        raise UploadRejected(
            f"{filename}: unsupported file type {suffix}; use one of "
            + ", ".join(supported_types()),
            status=415,
        )
    limit = settings.index.max_file_mb * 1024 * 1024
    if size is not None and size > limit:
        raise UploadRejected(
            f"{filename}: file too large ({size / 1e6:.1f} MB > {settings.index.max_file_mb:g} MB)",
            status=413,
        )
    if size == 0:
        raise UploadRejected(f"{filename}: the file is empty")
    return name


def _copy_limited(src: BinaryIO, dest: Path, limit: float, label: str) -> int:
    # The declared size can be missing or wrong; count what is actually written.
    written = 0
    with dest.open("wb") as out:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise UploadRejected(
                    f"{label}: file too large (> {limit / 1024 / 1024:g} MB)", status=413
                )
            out.write(chunk)
    if written == 0:
        raise UploadRejected(f"{label}: the file is empty")
    return written


Ingest = Callable[[list[Path], ProgressFactory | None], IngestReport]


def save_and_ingest(
    settings: Settings,
    ingest: Ingest,
    files: Iterable[tuple[str, BinaryIO, int | None]],
    progress: ProgressFactory | None = None,
) -> tuple[list[UploadResult], IngestReport]:
    """Check every ``(filename, stream, declared size)`` first (nothing is saved if one is
    refused), save them, ``ingest`` them, and report per file whether it made it into the
    index. A file the readers reject is removed again. An upload never replaces an earlier
    one: a name already taken gets a number (``report-2.pdf``), so a stranger cannot swap
    the text behind someone else's citations by uploading under the same name."""
    items = list(files)
    if not items:
        raise UploadRejected("no file in the upload (send them in the form field 'files')")
    if len(items) > MAX_FILES:
        raise UploadRejected(
            f"{len(items)} files in one upload; the limit is {MAX_FILES}", status=413
        )
    names = [check_upload(f, size, settings) for f, _, size in items]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise UploadRejected("two files would be saved as " + ", ".join(sorted(dupes)))
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
        paths: list[Path] = []
        for tmp, wanted in staged:
            final = _free_name(wanted)
            if not final.resolve().is_relative_to(folder.resolve()):  # belt and braces
                raise UploadRejected(f"refusing to write outside {folder}")
            os.replace(tmp, final)
            paths.append(final)
        try:
            report = ingest(paths, progress)
        except BaseException:
            for path in paths:
                path.unlink(missing_ok=True)
            raise
        results = _results(settings, paths, report)
        for path, result in zip(paths, results, strict=True):
            if not result.indexed:
                path.unlink(missing_ok=True)
    return results, report


def _free_name(path: Path) -> Path:
    """``path``, or the first of ``stem-2.ext``, ``stem-3.ext``... that is not taken."""
    n = 1
    candidate = path
    while candidate.exists() or candidate.is_symlink():
        n += 1
        stem = path.stem[: MAX_NAME_CHARS - len(path.suffix) - len(str(n)) - 1]
        candidate = path.with_name(f"{stem}-{n}{path.suffix}")
    return candidate


def _results(settings: Settings, paths: list[Path], report: IngestReport) -> list[UploadResult]:
    corpus = settings.index.corpus_dir.resolve()
    out = []
    for path in paths:
        source = path.resolve().relative_to(corpus).as_posix()
        docs = report.docs_by_file.get(str(path.resolve()), 0)
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
    dots gone). Raises ``UploadRejected`` (a ValueError, status 422) when nothing usable is left
    or when the path is taken by something other than a regular file: a folder, or a symbolic
    link, which could point anywhere. The folder is created if missing; the file is not.
    """
    base = folder.resolve()
    base.mkdir(parents=True, exist_ok=True)
    target = base / safe_name(name)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise UploadRejected(f"{target.name!r} exists in the upload folder and is not a file")
    if target.resolve().parent != base:  # belt and braces: never outside the folder
        raise UploadRejected(f"unusable file name {name!r}")
    return target
