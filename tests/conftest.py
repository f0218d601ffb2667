"""Fixtures for every test folder; the shared helpers themselves live in tests/support.

tests/unit/conftest.py overrides ``sample_assistant`` with an index built by the hashed
embedder; everywhere else it is built with the real model.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app import Assistant
from tests.support.samples import SAMPLE_CORPUS, sample_assistant_in


@pytest.fixture(scope="session")
def sample_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The two sample articles, ingested once for the whole run with the real model
    (read-only for tests)."""
    return sample_assistant_in(tmp_path_factory.mktemp("sample"))


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A copy of the sample corpus at ``tmp_path/corpus`` (the default corpus of
    ``make_settings(tmp_path)``)."""
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
