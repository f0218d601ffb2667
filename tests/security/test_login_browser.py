"""The login page in real headless Chromium: a person is sent there, logs in with the UI
password, uses the whole UI (chat, uploads' list) behind the one lock, and logs out.
Run with ``pytest -m browser``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.support.live_server import LiveServer, live_server
from tests.support.samples import NATO_QUESTION, sample_assistant_in
from tests.support.security import PASSWORD, TOKEN, USERNAME

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("login")
    a = sample_assistant_in(
        tmp, api_token=SecretStr(TOKEN), ui_username=USERNAME, ui_password=SecretStr(PASSWORD)
    )
    with live_server(a, tmp) as srv:
        yield srv


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox"], headless=True
        )
        try:
            pg = browser.new_page()
            pg.set_default_timeout(120_000)
            yield pg
        finally:
            browser.close()


def test_log_in_ask_and_log_out(page: Any, server: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/login?next=%2F")
    page.fill("#username", USERNAME)
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".problem")).to_contain_text("Wrong user name or password")
    # The page names the product and the user name to use, and a wrong password keeps it.
    expect(page.locator("h1")).to_have_text("Newsroom assistant")
    expect(page.locator(".hint")).to_contain_text(f"Log in as {USERNAME}")
    expect(page.locator("#username")).to_have_value(USERNAME)
    shot = tmp_path / "login-wrong-password.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(server.url + "/")
    box = page.locator("#question textarea")
    box.fill(NATO_QUESTION)
    box.press("Enter")
    expect(page.locator('#chatbot a[href$="#cite-0-1"]')).to_be_visible()
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#documents")).to_contain_text("000_7f57f19b72752444.txt")
    page.get_by_role("link", name="Log out").click()
    expect(page).to_have_url(server.url + "/login")
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/login?next=%2F")
