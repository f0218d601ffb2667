"""The web UI's page is the product's, not Gradio's demo page (issue 22): its title,
description, icon and footer; Gradio's footer and preview tags are gone."""

from __future__ import annotations

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.asgi import in_process


def test_the_page_carries_the_products_name_icon_and_footer(
    sample_assistant: Assistant,
) -> None:
    with in_process(create_app(sample_assistant)) as c:
        page = c.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text[:300]
        text = page.text
        assert '<meta property="og:title" content="Newsroom assistant" />' in text
        assert "every sentence of the answer quotes its source" in text
        for gradio in ('content="Gradio"', "Click to try out the app!", "@teamGradio",
                       "raw.githubusercontent.com"):  # fmt: skip
            assert gradio not in text, gradio
        assert int(page.headers["content-length"]) == len(page.content)
        config = c.get("/config").json()
        assert config["footer_links"] == []  # no "Use via API · Settings"
        assert "every answer quotes its sources" in str(config["components"])
        icon = c.get("/favicon.ico")
        assert icon.status_code == 200 and b"<svg" in icon.content
