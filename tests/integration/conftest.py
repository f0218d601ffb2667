"""Integration fixtures. The live intake's: a loopback web site the tests write
(tests/support/news_site.py), and assistants allowed to fetch from it (loopback is refused
unless fetch_allow_hosts names it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app import Assistant
from tests.support.news_site import Site, web_settings


@pytest.fixture
def site() -> Iterator[Site]:
    with Site().running() as s:
        yield s


@pytest.fixture
def web(tmp_path: Path, no_network: list[object]) -> Assistant:
    """An assistant on an empty index that may fetch from loopback, and from nowhere else
    (``no_network`` turns any other connection into a failure)."""
    return Assistant(web_settings(tmp_path))
