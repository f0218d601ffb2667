"""Turning a client-supplied file name into a path that is certainly inside the upload folder.

Browsers and scripts send names like ``../../etc/cron.d/x``, ``C:\\Users\\me\\a.txt``,
``report\\x00.txt``, ``\\u202etxt.exe`` (a right-to-left override that disguises the
suffix), or names that are only dots. Only the last path component is kept, invisible and
control characters are removed, and the result must still name a plain file directly inside
the folder, or ``UnsafeUploadName`` says why not.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

MAX_NAME_BYTES = 255  # the limit of ext4, xfs, btrfs and most others


class UnsafeUploadName(ValueError):
    """The name can't be used for an upload; ``str(exc)`` is the reason for the client."""


def clean_upload_name(name: str) -> str:
    """The safe file name for ``name`` (no folder part, no control or invisible characters,
    no leading dots, at most 255 bytes); raises ``UnsafeUploadName`` if nothing usable is left.
    """
    if not isinstance(name, str):
        raise UnsafeUploadName("the file name must be text")
    name = unicodedata.normalize("NFC", name)
    # Every character category C* is invisible or a control: NUL, newlines, escapes, bidi
    # overrides, zero-width joiners, unassigned code points, lone surrogates.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    # Both separators: a Windows browser may send its full path.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Leading dots hide a file from ingestion (and make "." and ".."); trailing dots and
    # spaces are dropped by some file systems, so two names could clash.
    name = name.strip().lstrip(".").rstrip(". ").strip()
    if not name:
        raise UnsafeUploadName("the file name is empty once path and control characters go")
    return _fit(name)


def _fit(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix.encode("utf-8")) > 16:
        stem, suffix = name, ""
    ending = f".{suffix}" if suffix else ""
    budget = MAX_NAME_BYTES - len(ending.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(". ")
    if not cut:
        raise UnsafeUploadName("the file name is too long")
    return cut + ending


def safe_upload_path(folder: Path, name: str) -> Path:
    """Where to store an upload called ``name``: always a direct child of ``folder``.

    Raises ``UnsafeUploadName`` (a ``ValueError``) when the name is unusable, or when the
    path is taken by something that is not a regular file (a folder, or a symbolic link,
    which could point anywhere). The folder is created if missing; the file is not.
    """
    base = folder.resolve()
    base.mkdir(parents=True, exist_ok=True)
    target = base / clean_upload_name(name)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise UnsafeUploadName(f"{target.name!r} exists and is not a regular file")
    if target.resolve().parent != base:  # belt and braces: never outside the folder
        raise UnsafeUploadName("the file name points outside the upload folder")
    return target
