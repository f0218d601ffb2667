"""Shared fixtures: small real indexes built in temp dirs, and a network guard."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import assistant  # noqa: F401  (offline switches first)
from assistant.app import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = ROOT / "corpus"
NATO_QUESTION = "What support did NATO pledge to Ukraine?"
TAIWAN_QUESTION = "What did NATO decide about Taiwan's defence budget?"


def make_settings(tmp: Path, **kw: object) -> Settings:
    return Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sample_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The two sample articles, ingested once for the whole run (read-only for tests)."""
    tmp = tmp_path_factory.mktemp("sample")
    shutil.copytree(SAMPLE_CORPUS, tmp / "corpus")
    a = Assistant(make_settings(tmp))
    report = a.ingest()
    assert report.docs_added == 2, report.summary()
    return a


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, d)
    return d


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any connection to a non-loopback address fails the call and is recorded."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost")):
            return real_connect(self, address)  # type: ignore[arg-type]
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)  # type: ignore[arg-type]
        attempts.append(address)
        raise OSError(f"network blocked in tests: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
