"""The web UI's page says it is ours: Gradio's index page carries its own link-preview tags
(og:title "Gradio", "Click to try out the app!", an image and accounts on GitHub and Twitter),
which a pasted link in Slack or a chat would show. They are rewritten on the way out."""

from __future__ import annotations

import html
import re
from typing import Any

_GRADIO_TAG = re.compile(
    r'\s*<meta\s+(?:property|name)="(?:og|twitter):(?:title|description|image|url|creator)"'
    r'\s+content="(?:Gradio|Click to try out the app!|@Gradio|@teamGradio|https://gradio\.app/|'
    r'https://raw\.githubusercontent\.com/gradio-app/[^"]*|)"\s*/?>',
)


def rewrite(page: str, title: str, description: str) -> str:
    """``page`` with Gradio's preview tags replaced by this product's title and description."""
    ours = (
        f'<meta name="description" content="{html.escape(description)}" />'
        f'<meta property="og:title" content="{html.escape(title)}" />'
        f'<meta property="og:description" content="{html.escape(description)}" />'
        f'<meta name="twitter:title" content="{html.escape(title)}" />'
        f'<meta name="twitter:description" content="{html.escape(description)}" />'
    )
    page = _GRADIO_TAG.sub("", page)
    return page.replace("<head>", "<head>" + ours, 1)


class PageMeta:
    """Pure ASGI: rewrites the HTML of GET requests for the app's page (``/``)."""

    def __init__(self, app: Any, title: str, description: str) -> None:
        self.app, self.title, self.description = app, title, description

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def buffered(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(body)
            headers = list(start.get("headers", []))
            named = dict(headers)
            if named.get(b"content-type", b"").startswith(b"text/html") and not named.get(
                b"content-encoding"
            ):
                data = rewrite(data.decode("utf-8"), self.title, self.description).encode()
                headers = [(k, v) for k, v in headers if k != b"content-length"]
                headers.append((b"content-length", str(len(data)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, buffered)
