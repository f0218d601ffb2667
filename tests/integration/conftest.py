"""Fixtures for the live intake: a loopback web site the tests write, and assistants allowed
to fetch from it (loopback is refused unless fetch_allow_hosts names it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.settings import Settings
from tests.conftest import make_settings
from tests.feeds.site import Site

LOOPBACK = ["127.0.0.1"]


@pytest.fixture
def site() -> Iterator[Site]:
    with Site().running() as s:
        yield s


def web_settings(tmp: Path, **kw: object) -> Settings:
    kw.setdefault("fetch_allow_hosts", LOOPBACK)
    kw.setdefault("fetch_timeout", 5.0)
    return make_settings(tmp, **kw)


@pytest.fixture
def web(tmp_path: Path, no_network: list[object]) -> Assistant:
    """An assistant on an empty index that may fetch from loopback, and from nowhere else
    (``no_network`` turns any other connection into a failure)."""
    return Assistant(web_settings(tmp_path))
