"""Integration tests: the real MiniLM model, real servers (uvicorn, Chroma, the fake LLM and
Slack HTTP servers that the real client libraries talk to), real browsers and processes."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from tests.support.samples import sample_assistant_in


@pytest.fixture(scope="session")
def sample_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The two sample articles, ingested once for the whole run with the real model
    (read-only for tests)."""
    return sample_assistant_in(tmp_path_factory.mktemp("sample"))
