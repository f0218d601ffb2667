"""The page that opens a cited document in full: the stored text with the quote marked, escaped,
and behind the web UI's login."""

from __future__ import annotations

import html
from urllib.parse import urljoin

import httpx
import pytest
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.document_page import render
from assistant.fronts.web import citation_html, document_link
from tests.support.live_server import live_server
from tests.support.samples import NATO_QUESTION, sample_assistant_in


def test_render_marks_the_quote_and_escapes_everything() -> None:
    doc = {
        "title": "<b>Budget</b>",
        "source": "uploads/notes.md",
        "url": None,
        "published": "2024-03-14",
        "text": "Intro <script>alert(1)</script>. The council voted 7-2. End.",
    }
    start = doc["text"].index("The council")
    page = render(doc, 3, start, start + len("The council voted 7-2."))
    assert '<span class="n">[3]</span> <mark id="quote">The council voted 7-2.</mark>' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<h1>&lt;b&gt;Budget&lt;/b&gt;</h1>" in page
    assert "2024-03-14 · uploads/notes.md" in page
    # Offsets that do not fit the text mark nothing rather than something wrong.
    for bad in ((5, 2), (0, 10_000), (None, 4)):
        assert "<mark" not in render(doc, 1, *bad)
    js = dict(doc, url="javascript:alert(1)")
    assert "href" not in render(js, None, None, None)


def test_citation_cards_link_to_the_whole_document(sample_assistant: Assistant) -> None:
    a = sample_assistant.ask(NATO_QUESTION)
    c = a.citations[0]
    link = document_link(c)
    assert link == f"document/{c.doc_id}?n={c.n}&start={c.start}&end={c.end}#quote"
    assert f'href="{html.escape(link, quote=True)}"' in citation_html(c, None, 0)


def test_the_page_is_behind_the_ui_login(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("docpage")
    a = sample_assistant_in(tmp, ui_username="desk", ui_password=SecretStr("pw-Desk-31"))
    c = a.ask(NATO_QUESTION).citations[0]
    with live_server(a, tmp) as srv, httpx.Client(base_url=srv.url, trust_env=False) as http:
        url = "/" + document_link(c).split("#")[0]
        # A browser is sent to the login page (and back here after it); others get a 401.
        refused = http.get(url, headers={"Accept": "text/html"})
        assert refused.status_code == 303
        assert urljoin(url, refused.headers["location"]).startswith("/login?next=")
        assert c.quote not in refused.text
        assert http.post("/login", data={"username": "desk", "password": "nope"}).status_code == 401
        assert http.get(url).status_code == 401
        assert http.post("/login", data={"username": "desk", "password": "pw-Desk-31"}).is_success
        page = http.get(url)
        assert page.status_code == 200
        assert f'<mark id="quote">{html.escape(c.quote)}</mark>' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["x-frame-options"] == "DENY"
        missing = http.get("/document/d0000000000000000")
        assert missing.status_code == 404 and "No such document" in missing.text
