"""A cited document in full, its quote highlighted: the page a citation card links to.

Sources without a URL (a local file, an upload) could otherwise only be read through the
~300 characters the sources panel shows around a quote. ``GET /document/{doc_id}?n=&start=
&end=`` answers with the document's stored text (the text citation offsets refer to), the
quote at ``start``:``end`` marked and scrolled to (``#quote``). A plain page: no script, a
strict content security policy, everything escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.app import Assistant
from assistant.errors import AssistantError, NotFound

DOCUMENT_PATH = "/document"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STYLE = """
body { font-family: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2937; background: #fff; margin: 0; line-height: 1.6; }
main { max-width: 46rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.5rem; line-height: 1.3; margin: 0 0 .35rem; }
.meta { color: #6b7280; font-size: .92rem; margin: 0 0 .35rem; word-break: break-all; }
.hint { color: #6b7280; font-size: .92rem; margin: 0 0 1.5rem; }
.text { white-space: pre-wrap; font-size: 1.05rem; }
mark { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 2px;
  scroll-margin-top: 30vh; }
.n { font-weight: 700; color: #92400e; }
"""


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def render(doc: dict[str, Any], n: int | None, start: int | None, end: int | None) -> str:
    text: str = doc.get("text") or ""
    title = doc.get("title") or doc.get("source") or "Document"
    url = doc.get("url") or ""
    where = (
        f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{html.escape(url)}</a>'
        if url.startswith(("http://", "https://"))
        else html.escape(doc.get("source") or "")
    )
    claimed = doc.get("claimed_url") or ""
    # what the document says its address is: shown as text, never as a link that vouches for it
    claim = f"claims to be {html.escape(claimed)}" if claimed else ""
    meta = " · ".join(x for x in (html.escape(doc.get("published") or ""), where, claim) if x)
    marked = start is not None and end is not None and 0 <= start < end <= len(text)
    if marked:
        assert start is not None and end is not None
        label = f'<span class="n">[{n}]</span> ' if n is not None else ""
        body = (
            f'{html.escape(text[:start])}{label}<mark id="quote">{html.escape(text[start:end])}'
            f"</mark>{html.escape(text[end:])}"
        )
        hint = f"The passage cited as [{n}] is highlighted." if n is not None else ""
    else:
        body, hint = html.escape(text), ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Newsroom assistant</title><style>{STYLE}</style></head>
<body><main><h1>{html.escape(title)}</h1><p class="meta">{meta}</p><p class="hint">{hint}</p>
<div class="text">{body}</div></main></body></html>
"""


def add_document_route(
    app: FastAPI, assistant: Assistant, allowed: Callable[[Request], bool]
) -> None:
    """Serve the page at DOCUMENT_PATH/{doc_id} to requests ``allowed`` lets in (the UI's
    login); others are sent to the UI's front page, where the login is."""

    @app.get(DOCUMENT_PATH + "/{doc_id}", include_in_schema=False, response_model=None)
    def document(request: Request, doc_id: str) -> Response:
        if not allowed(request):
            return RedirectResponse("../", status_code=303)
        q = request.query_params
        try:
            doc = assistant.document(doc_id)
        except NotFound:
            page = render({"title": "No such document", "text": ""}, None, None, None)
            return HTMLResponse(page, status_code=404, headers=HEADERS)
        except AssistantError as exc:
            page = render({"title": "The index cannot be read", "text": str(exc)}, None, None, None)
            return HTMLResponse(page, status_code=exc.status, headers=HEADERS)
        page = render(doc, _int(q.get("n")), _int(q.get("start")), _int(q.get("end")))
        return HTMLResponse(page, headers=HEADERS)
