"""A corpus or watched folder is a trust boundary: links that lead out of it are reported and
not followed, links that stay inside still work. Security review, finding 8."""

from __future__ import annotations

import os
from pathlib import Path

from assistant.index.readers import iter_files

PRIVATE = "PRIVATE: the editor's salary review, not for publication."


def test_links_out_of_the_folder_are_reported_not_followed(tmp_path: Path) -> None:
    corpus, private = tmp_path / "corpus", tmp_path / "private"
    (corpus / "sub").mkdir(parents=True)
    private.mkdir()
    (private / "salaries.txt").write_text(PRIVATE, encoding="utf-8")
    (corpus / "story.txt").write_text("A story.", encoding="utf-8")
    os.symlink(private / "salaries.txt", corpus / "linked.txt")
    os.symlink(private, corpus / "sub" / "private")
    os.symlink("../story.txt", corpus / "sub" / "inside.txt")  # stays in the folder: fine
    os.symlink("..", corpus / "sub" / "up")

    rejected: list[tuple[Path, Path, str]] = []
    files = [f.relative_to(corpus).as_posix() for f, _ in iter_files([corpus], rejected)]
    assert sorted(files) == ["story.txt", "sub/inside.txt"]
    why = {p.relative_to(corpus).as_posix(): reason for p, _, reason in rejected}
    assert set(why) == {"linked.txt", "sub/private"}
    assert all(
        "outside the folder" in reason and "not followed" in reason for reason in why.values()
    )


def test_ingest_and_watch_say_so_and_never_index_the_target(tmp_path: Path) -> None:
    from assistant.app import Assistant
    from assistant.settings import Settings

    corpus, private = tmp_path / "corpus", tmp_path / "private"
    corpus.mkdir()
    private.mkdir()
    (private / "salaries.txt").write_text(PRIVATE, encoding="utf-8")
    (corpus / "story.txt").write_text(
        "Ferry Fares Rise\n\nThe ferry company raised fares on Monday, May 6, 2024.", "utf-8"
    )
    os.symlink(private / "salaries.txt", corpus / "linked.txt")
    a = Assistant(Settings(index_dir=tmp_path / "index", corpus_dir=corpus))
    report = a.ingest()
    assert {d["source"] for d in a.documents()} == {"story.txt"}
    assert "skipped linked.txt: symbolic link to outside the folder" in report.summary()
    assert not a.ask("What does the salary review say?").citations
