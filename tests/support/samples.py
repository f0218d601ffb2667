"""The sample corpus, the questions asked of it, and settings that keep an index in a temp dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import assistant  # noqa: F401  (offline switches first)
from assistant.app import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CORPUS = ROOT / "corpus"
NATO_QUESTION = "What support did NATO pledge to Ukraine?"
TAIWAN_QUESTION = "What did NATO decide about Taiwan's defence budget?"
DOC_2023 = "000_7f57f19b72752444.txt"  # NATO Reaffirms Long-Term Support..., 2023-11-27
DOC_2022 = "004_b2e554588cd8baa4.txt"  # Live updates: Russia's war in Ukraine, 2022-11-25


def make_settings(tmp: Path, **kw: object) -> Settings:
    """Settings whose index and corpus live in ``tmp`` (the rest: environment, defaults)."""
    return Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus", **kw)  # type: ignore[call-arg, arg-type]


def sample_assistant_in(tmp: Path, **settings: object) -> Assistant:
    """A fresh index of the sample corpus under ``tmp`` (callers may write to it)."""
    shutil.copytree(SAMPLE_CORPUS, tmp / "corpus")
    a = Assistant(make_settings(tmp, **settings))
    report = a.ingest()
    assert report.docs_added == 2, report.summary()
    a.warm_up()
    return a


def ingested_folder(tmp: Path) -> Path:
    """``tmp`` with the sample corpus in ./corpus ingested into ./index: the CLI's defaults,
    for commands run in that folder."""
    shutil.copytree(SAMPLE_CORPUS, tmp / "corpus")
    assert Assistant(make_settings(tmp)).ingest().docs_added == 2
    return tmp
