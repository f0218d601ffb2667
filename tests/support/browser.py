"""Debian's headless Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 120_000
# A browser test module's marks: `-m browser`, skipped where Chromium is missing.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)",
    ),
]


def ask(page: Any, question: str) -> None:
    """Type a question into the chat and send it."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
