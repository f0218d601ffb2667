"""The web UI's rough edges, each state checked in real headless Chromium and photographed.

Run with ``pytest -m browser``. Screenshots go to the test's temp folder, and also to the folder
named by ASSISTANT_SCREENSHOT_DIR when it is set (to look at them).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.app import NO_ANSWER
from tests.support.browser import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, ask
from tests.support.live_server import LiveServer, sample_server
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION

pytestmark = BROWSER_MARKS
# Emoji need an emoji font, which servers and kiosks often lack: the UI must not use them.
EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff\ufe0f]")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from sample_server(tmp_path_factory.mktemp("screens"))


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Any:
    pg = browser.new_page(viewport={"width": 1400, "height": 950})
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(server.url + "/")
    return pg


def shoot(page: Any, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if folder := os.environ.get("ASSISTANT_SCREENSHOT_DIR"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(folder) / shot.name)
    return shot


def answered(page: Any, turn: int) -> None:
    """Wait for turn ``turn``'s answer to be complete (its sources are shown)."""
    from playwright.sync_api import expect

    expect(page.locator(f"#turn-{turn}")).to_be_attached()


def test_a_refusal_is_said_once(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ask(page, TAIWAN_QUESTION)
    expect(page.locator("#chatbot")).to_contain_text(NO_ANSWER)
    time.sleep(0.5)  # nothing else may appear after the answer
    assert page.locator("body").inner_text().count(NO_ANSWER) == 1
    expect(page.locator("#notice")).to_be_hidden()
    shoot(page, tmp_path, "refusal")


def test_notes_are_a_muted_capitalised_caption(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ask(page, NATO_QUESTION)
    caption = page.locator("#notice .caption")
    expect(caption).to_be_visible()
    expect(caption).to_have_text(re.compile(r"^The sources date from 2022-11-25 to 2023-11-27"))
    expect(page.locator("#notice .problem")).to_have_count(0)
    style = caption.evaluate(
        """e => { const s = getComputedStyle(e), p = getComputedStyle(e.parentElement);
          return [s.color, s.backgroundColor, p.backgroundColor, s.borderTopWidth,
                  parseFloat(s.fontSize), parseFloat(getComputedStyle(document.querySelector(
                  '#chatbot .message')).fontSize)]; }"""
    )
    color, background, outer, border, size, chat_size = style
    # Muted like the sources panel's hint, not the amber warning of an error.
    hint = page.locator("#sources .hint, #sources .date").first.evaluate(
        "e => getComputedStyle(e).color"
    )
    assert color == hint
    assert background in ("rgba(0, 0, 0, 0)", "transparent") and border == "0px"
    assert outer in ("rgba(0, 0, 0, 0)", "transparent")
    assert size < chat_size
    shoot(page, tmp_path, "caption")


def test_the_conversation_label_never_covers_a_message(page: Any, tmp_path: Path) -> None:
    follow_up = "And what did he say about Sweden's membership?"  # one the reader answers
    for turn, q in enumerate([NATO_QUESTION, follow_up, NATO_QUESTION]):
        ask(page, q)
        answered(page, turn)
    scroller = page.locator("#chatbot .bubble-wrap")
    height = scroller.evaluate("e => e.scrollHeight - e.clientHeight")
    assert height > 300, "the chat must scroll for this test to mean anything"
    for y in range(0, height + 1, 40):
        scroller.evaluate(f"e => e.scrollTop = {y}")
        hits = page.evaluate(
            """() => {
              const c = document.querySelector('#chatbot');
              const w = c.querySelector('.bubble-wrap').getBoundingClientRect();
              const covers = [...c.querySelectorAll('[data-testid=block-label], .top-panel')]
                .map(e => e.getBoundingClientRect());
              const hits = [];
              for (const m of c.querySelectorAll('.message-row .message, .message-row button')) {
                const r = m.getBoundingClientRect();
                const top = Math.max(r.top, w.top), bottom = Math.min(r.bottom, w.bottom);
                if (bottom <= top) continue;  // scrolled out of sight
                for (const b of covers)
                  if (r.left < b.right && b.left < r.right && top < b.bottom && b.top < bottom)
                    hits.push(m.textContent.slice(0, 40));
              }
              return hits;
            }"""
        )
        assert hits == [], f"at scroll {y}: covered {hits}"
    scroller.evaluate(f"e => e.scrollTop = {height // 2}")
    assert page.locator("#chatbot [data-testid=block-label]").inner_text().strip() == "Conversation"
    shoot(page, tmp_path, "scrolled-chat")


def test_a_cited_source_opens_in_full_with_the_quote_highlighted(
    page: Any, server: LiveServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    want = server.assistant.ask(NATO_QUESTION, session=server.assistant.new_session(keep=False))
    ask(page, NATO_QUESTION)
    answered(page, 0)
    second = want.citations[1]
    assert second.url is None  # a local file: no link to follow but ours
    page.locator('#chatbot a[href$="#cite-0-2"]').click()
    link = page.locator("#cite-0-2 a.open")
    expect(link).to_be_visible()
    with page.context.expect_page() as opened:
        link.click()
    doc = opened.value
    doc.wait_for_load_state()
    expect(doc.locator("h1")).to_have_text(second.title)
    mark = doc.locator("mark#quote")
    expect(mark).to_have_text(second.quote)
    expect(mark).to_be_in_viewport()
    stored = server.assistant.document(second.doc_id)["text"]
    assert doc.locator(".text").inner_text().replace("[2] ", "", 1) == stored
    expect(doc.locator(".meta")).to_contain_text(f"{second.published} · {second.source}")
    assert doc.evaluate("document.scripts.length") == 0
    shoot(doc, tmp_path, "document")


def test_documents_table_font_and_status_icons(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#documents")).to_contain_text("Live updates")
    good = tmp_path / "council.md"
    good.write_text(
        "# Council Approves Library Roof Repair\n\nThe town council voted on Thursday "
        "(14 March 2024) to repair the library roof, the mayor said.\n",
        encoding="utf-8",
    )
    bad = tmp_path / "garbage.txt"
    bad.write_bytes(bytes(range(256)) * 4)
    page.locator("#upload input[type=file]").set_input_files([str(good), str(bad)])
    status = page.locator("#upload-status")
    expect(status).to_contain_text("council.md: 1 document indexed")
    expect(status).to_contain_text("garbage.txt: not indexed")
    icons = status.locator("svg.icon")
    expect(icons).to_have_count(2)
    for i in range(2):
        box = icons.nth(i).bounding_box()
        assert box is not None and box["width"] >= 12 and box["height"] >= 12
    assert [icons.nth(i).get_attribute("aria-label") for i in range(2)] == ["done", "failed"]
    assert not EMOJI.search(page.locator("body").inner_text())
    page_font = page.locator(".gradio-container").evaluate("e => getComputedStyle(e).fontFamily")
    fonts = page.locator("#documents").evaluate(
        """e => [...new Set([...e.querySelectorAll('*')]
              .filter(x => x.textContent.includes('Council Approves'))
              .map(x => getComputedStyle(x).fontFamily))]"""
    )
    assert fonts == [page_font]
    shoot(page, tmp_path, "documents")
