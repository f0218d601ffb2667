"""The watched folder: the index follows adds, changes and deletes within one poll, without
reading files that did not change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import assistant.index.ingestion as ingestion
from assistant.app import Assistant
from tests.support.samples import make_settings

NOTE = (
    "{town} council meeting\n\nThe council of {town} agreed on {what} at its meeting on Monday.\n"
)


def note(folder: Path, name: str, town: str, what: str) -> Path:
    path = folder / name
    path.write_text(NOTE.format(town=town, what=what), encoding="utf-8")
    return path


def age(path: Path, seconds: float = 10) -> None:
    """Date a file back, as files dropped a moment ago are re-hashed (racy mtime)."""
    t = time.time() - seconds
    import os

    os.utime(path, (t, t))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files ingestion opened (to hash or to parse)."""
    opened: list[str] = []
    real_hash, real_read = ingestion.file_fingerprint, ingestion.read_file_report

    def hashing(path: Path) -> str:
        opened.append(path.name)
        return real_hash(path)

    def reading(path: Path, root: Path, untrusted: bool = False):  # type: ignore[no-untyped-def]
        opened.append(path.name)
        return real_read(path, root, untrusted)

    monkeypatch.setattr(ingestion, "file_fingerprint", hashing)
    monkeypatch.setattr(ingestion, "read_file_report", reading)
    return opened


def titles(a: Assistant) -> set[str]:
    return {d["title"] for d in a.documents()}


def test_the_index_follows_the_folder_within_one_poll(tmp_path: Path, reads: list[str]) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    a = Assistant(make_settings(tmp_path))
    watcher = a.watcher([drop])
    for n, town in enumerate(["Arvika", "Brennholm", "Calder"]):
        age(note(drop, f"n{n}.txt", town, "a budget"))
    report = watcher.round()
    assert report.folders is not None and report.folders.docs_added == 3

    reads.clear()
    assert watcher.round().folders is None, "nothing changed: no ingestion at all"
    assert reads == []

    age(note(drop, "n3.txt", "Dunmore", "a new ferry"))  # added
    report = watcher.round()
    assert report.folders is not None and report.folders.docs_added == 1
    assert sorted(set(reads)) == ["n3.txt"], "unchanged files are not read again"
    assert "Dunmore council meeting" in titles(a)

    reads.clear()
    age(note(drop, "n1.txt", "Brennholm", "to close the old library"))  # changed
    report = watcher.round()
    assert report.folders is not None and report.folders.docs_updated == 1
    assert sorted(set(reads)) == ["n1.txt"]
    answer = a.ask("What did the council of Brennholm agree on?")
    assert any("close the old library" in c.quote for c in answer.citations)

    (drop / "n0.txt").unlink()  # deleted
    report = watcher.round()
    assert report.folders is not None and report.folders.docs_removed == 1
    assert "Arvika council meeting" not in titles(a) and len(a.documents()) == 3


def test_a_touched_but_unchanged_file_is_hashed_not_parsed(
    tmp_path: Path, reads: list[str]
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    path = note(drop, "n.txt", "Calder", "a budget")
    age(path, 20)
    a = Assistant(make_settings(tmp_path))
    watcher = a.watcher([drop])
    watcher.round()
    reads.clear()
    age(path, 5)  # touched: the stat moved, the bytes did not
    report = watcher.round()
    assert report.folders is not None
    assert (report.folders.files_unchanged, report.folders.docs_updated) == (1, 0)
    assert reads == ["n.txt"]  # hashed once, never parsed or embedded
    reads.clear()
    assert watcher.round().folders is None and reads == []


def test_the_watch_thread_follows_the_folder(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    a = Assistant(make_settings(tmp_path, watch_interval=0.2))
    stop = a.start_watching([drop])
    try:
        note(drop, "late.txt", "Eskerby", "a new harbour crane")
        deadline = time.monotonic() + 60
        while "Eskerby council meeting" not in titles(a):
            assert time.monotonic() < deadline, "the new file was not ingested"
            time.sleep(0.1)
        (drop / "late.txt").unlink()
        while titles(a):
            assert time.monotonic() < deadline, "the deleted file's document stayed"
            time.sleep(0.1)
    finally:
        stop()
