"""Unit tests: fast and in-process. The embedder is ``hashed`` (tests/support/fake_embedder.py),
the reader ``overlap`` (tests/support/fake_reader.py) and the LLM ``scripted``
(tests/support/scripted_llm.py), all registered through the real registries; the HTTP app is
driven through httpx's ASGITransport (tests/support/asgi.py).
Nothing here loads the MiniLM model, starts a server or a process: tests/integration does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.support.fake_embedder as fake_embedder
import tests.support.fake_reader as fake_reader
from assistant.app import Assistant
from assistant.index.embedders.minilm import OnnxSentenceEmbedding
from tests.support.samples import sample_assistant_in
from tests.support.scripted_llm import SCRIPT, Script


@pytest.fixture(scope="package", autouse=True)
def _fast_backends() -> Iterator[None]:
    """Settings built in unit tests and their fixtures (and the CLI run in-process) use the
    hashed embedder and the overlap reader, and the real model refuses to load: a unit test that
    needs it belongs in tests/integration. Undone when the unit tests are over, before any other
    folder's run."""

    def refuse(self: OnnxSentenceEmbedding) -> None:
        raise AssertionError("a unit test loaded the MiniLM model; move it to tests/integration")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_EMBEDDER", fake_embedder.NAME)
        mp.setenv("ASSISTANT_READER", fake_reader.NAME)
        mp.setattr(OnnxSentenceEmbedding, "_load", refuse)
        yield


@pytest.fixture(scope="session")
def sample_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The two sample articles, ingested once for the whole run with the hashed embedder
    (read-only for tests)."""
    return sample_assistant_in(tmp_path_factory.mktemp("sample"), embedder=fake_embedder.NAME)


@pytest.fixture
def script() -> Iterator[Script]:
    """The scripted LLM's script, reset: set ``responder`` (or ``status``), then ask with
    ``llm="scripted"``."""
    SCRIPT.reset()
    yield SCRIPT
    SCRIPT.reset()
