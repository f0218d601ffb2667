"""The Gradio web UI, mounted at / of the API server.

A chat whose answers stream in, with every ``[n]`` marker linking to a sources panel that shows
the cited passage highlighted inside its surrounding text; a documents tab with the index
listing and an upload box. The conversation is a ``ChatSession`` kept per browser session in a
``gr.State``; everything else is asked of the shared ``Assistant``.

Offline: the theme uses system fonts (nothing is fetched from a font CDN), and Gradio's
analytics are switched off by ``assistant.offline`` before Gradio is imported.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlparse

import gradio as gr
from fastapi import FastAPI

from assistant.app import Assistant
from assistant.errors import AssistantError
from assistant.fronts.document_page import DOCUMENT_PATH, add_document_route
from assistant.fronts.gradio_files import UploadedFilesOnly
from assistant.fronts.limits import client_address
from assistant.fronts.page_meta import PageMeta
from assistant.types import Answer, Citation, Turn, answer_phrases, split_phrases

log = logging.getLogger(__name__)
_T = TypeVar("_T")

EXAMPLES = [
    "What support did NATO pledge to Ukraine?",
    "What did Stoltenberg say about Finland?",
]
CONTEXT_CHARS = 300  # text shown on each side of a quoted passage
EMPTY_SOURCES = (
    '<p class="hint">Sources appear here. Click a marker such as [1] in an answer to see '
    "the passage it quotes, highlighted in its document.</p>"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")

SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

# A click on an answer's [n] opens that citation in the sources panel instead of following the
# link; in the capture phase, before Gradio's own link handling.
HEAD = """<script>
document.addEventListener("click", function (ev) {
  var a = ev.target.closest ? ev.target.closest('a[href*="#cite-"]') : null;
  if (!a) return;
  var el = document.getElementById(a.getAttribute("href").split("#")[1]);
  if (!el) return;
  ev.preventDefault();
  ev.stopPropagation();
  var turn = el.closest("details.turn");
  if (turn) turn.open = true;
  el.open = true;
  el.scrollIntoView({behavior: "smooth", block: "center"});
  el.classList.add("flash");
  setTimeout(function () { el.classList.remove("flash"); }, 1500);
}, true);
</script>"""

CSS = """
#sources { max-height: 70vh; overflow-y: auto; }
#sources .hint { color: var(--body-text-color-subdued); }
#sources details.turn > summary { font-weight: 600; margin: 8px 0 4px; cursor: pointer; }
#sources details.cite { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 6px 10px; margin: 6px 0; }
#sources details.cite > summary { cursor: pointer; }
#sources details.cite[open] { background: var(--background-fill-secondary); }
#sources details.cite.flash { outline: 2px solid var(--color-accent); }
#sources .n { font-weight: 700; margin-right: 4px; }
#sources .date, #sources .where { color: var(--body-text-color-subdued); font-size: 0.92em; }
#sources .where { margin-top: 4px; word-break: break-all; }
#sources .passage { white-space: pre-wrap; font-size: 0.92em; line-height: 1.45; margin: 6px 0 2px;
  padding-left: 8px; border-left: 3px solid var(--border-color-primary); }
#sources mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
#sources a.open { font-size: 0.92em; }
#notice .caption { color: var(--body-text-color-subdued); font-size: var(--text-sm);
  padding: 0 4px; }
#notice .problem { border: 1px solid #f59e0b; background: #fffbeb; color: #78350f;
  border-radius: 8px; padding: 8px 12px; }
/* The scrolling messages start below the chat's label and Clear button, never under them. */
#chatbot .bubble-wrap { margin-top: 2.25rem; height: calc(100% - 2.25rem);
  border-top: 1px solid var(--border-color-primary); }
/* Gradio sets tables in the monospace font; the documents list is prose. */
#documents, #documents * { font-family: var(--font); }
#upload-status p { display: flex; gap: 6px; align-items: baseline; margin: 4px 0; }
svg.icon { flex: none; align-self: center; }
"""

# Status icons drawn inline: no emoji font needed (servers and kiosks often have none).
ICON_OK = (
    '<svg class="icon" role="img" aria-label="done" width="16" height="16" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="8" fill="#15803d"/><path d="M4.4 8.3l2.4 2.4 4.8-5.1" fill="none"'
    ' stroke="#fff" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>'
)
ICON_FAILED = (
    '<svg class="icon" role="img" aria-label="failed" width="16" height="16" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="8" fill="#b91c1c"/><path d="M5.2 5.2l5.6 5.6M10.8 5.2l-5.6 5.6"'
    ' stroke="#fff" stroke-width="1.8" stroke-linecap="round"/></svg>'
)
ICON_WARNING = (
    '<svg class="icon" role="img" aria-label="warning" width="16" height="16" viewBox="0 0 16 16">'
    '<path d="M8 1.2L15.3 14.4H.7z" fill="#d97706" stroke="#d97706" stroke-linejoin="round"/>'
    '<path d="M8 6v4" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>'
    '<circle cx="8" cy="12.2" r="1" fill="#fff"/></svg>'
)


# --- rendering --------------------------------------------------------------------------------
def answer_markdown(text: str, turn: int, citations: list[Citation] | None = None) -> str:
    """The answer as Markdown whose [n] markers link to citation n of this turn, with the
    answer phrase the reader marked in each quote in bold."""
    pieces = split_phrases(text, answer_phrases(text, citations or []))
    escaped = "".join(
        "**" + _MD_SPECIAL.sub(r"\\\1", p) + "**" if bold else _MD_SPECIAL.sub(r"\\\1", p)
        for p, bold in pieces
    )
    return _ESCAPED_MARKER.sub(lambda m: f"[\\[{m[1]}\\]](#cite-{turn}-{m[1]})", escaped)


def passage_html(text: str | None, c: Citation, width: int = CONTEXT_CHARS) -> str:
    """The quote highlighted inside ``width`` characters of its document on each side."""
    quote = html.escape(c.quote)
    if not text or not (0 <= c.start < c.end <= len(text)) or text[c.start : c.end] != c.quote:
        return f"<mark>{quote}</mark>"  # the document changed since; show the quote alone
    lo, hi = max(0, c.start - width), min(len(text), c.end + width)
    if lo > 0:  # start and end on word boundaries
        space = text.find(" ", lo, c.start)
        lo = space + 1 if space >= 0 else lo
    if hi < len(text):
        space = text.rfind(" ", c.end, hi)
        hi = space if space > c.end else hi
    before = ("…" if lo > 0 else "") + text[lo : c.start]
    after = text[c.end : hi] + ("…" if hi < len(text) else "")
    return f"{html.escape(before)}<mark>{quote}</mark>{html.escape(after)}"


def _link(url: str | None, source: str) -> str:
    if url and urlparse(url).scheme in ("http", "https"):  # never a javascript: link
        u = html.escape(url, quote=True)
        return f'<a href="{u}" target="_blank" rel="noopener noreferrer">{html.escape(url)}</a>'
    return html.escape(source)


def document_link(c: Citation) -> str:
    """The whole stored document with citation ``c``'s quote highlighted (document_page)."""
    query = urlencode({"n": c.n, "start": c.start, "end": c.end})
    return f"{DOCUMENT_PATH.lstrip('/')}/{quote(c.doc_id)}?{query}#quote"


def citation_html(c: Citation, text: str | None, turn: int) -> str:
    date = f' <span class="date">({html.escape(c.published)})</span>' if c.published else ""
    # A relative link: it works wherever the UI is mounted (behind a proxy's sub-path too).
    whole = (
        f'<a class="open" href="{html.escape(document_link(c), quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">Read the whole document, quote highlighted</a>'
        if c.doc_id
        else ""
    )
    return (
        f'<details class="cite" id="cite-{turn}-{c.n}">'
        f'<summary><span class="n">[{c.n}]</span>{html.escape(c.title or c.source)}{date}</summary>'
        f'<div class="where">{_link(c.url, c.source)}</div>'
        f'<blockquote class="passage">{passage_html(text, c)}</blockquote>{whole}</details>'
    )


def sources_html(turns: list[Turn], texts: dict[str, str]) -> str:
    """Every turn's citations, newest turn first and open; older turns folded."""
    sections = []
    last = len(turns) - 1
    for i in range(last, -1, -1):
        t = turns[i]
        if not t.citations:
            continue
        items = "".join(citation_html(c, texts.get(c.doc_id), i) for c in t.citations)
        opened = " open" if i == last else ""
        question = html.escape(t.question)
        sections.append(
            f'<details class="turn" id="turn-{i}"{opened}><summary>Sources for “{question}”'
            f"</summary>{items}</details>"
        )
    return "".join(sections) or EMPTY_SOURCES


def notice_update(answer: Answer | None, error: str | None = None) -> Any:
    """An error as a warning; an answer's notes (which source is newest, a fallback) as a
    muted caption. A refusal shows nothing here: the chat already says it, once."""
    if error:
        return gr.update(
            value=f'<div class="problem">{ICON_WARNING} {html.escape(error)}</div>', visible=True
        )
    if answer is None or not answer.answered or not answer.notices:
        return gr.update(value="", visible=False)
    lines = "<br>".join(html.escape(_sentence(n)) for n in answer.notices)
    return gr.update(value=f'<div class="caption">{lines}</div>', visible=True)


def _sentence(note: str) -> str:
    note = note.strip()
    return note[:1].upper() + note[1:] + ("" if note.endswith((".", ")", "?", "!")) else ".")


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def history(turns: list[Turn]) -> list[dict[str, str]]:
    out = []
    for i, t in enumerate(turns):
        out += [_msg("user", _MD_SPECIAL.sub(r"\\\1", t.question))]
        out += [_msg("assistant", answer_markdown(t.answer, i, t.citations))]
    return out


class _Bar:
    """Ingestion progress (a tqdm-like bar) shown through a gr.Progress."""

    def __init__(self, progress: gr.Progress, total: int, desc: str) -> None:
        self.progress, self.total, self.desc, self.done = progress, total, desc, 0
        self.progress((0, total or None), desc=desc, unit="chunks")

    def update(self, n: int = 1) -> None:
        self.done += n
        self.progress((self.done, self.total or None), desc=self.desc, unit="chunks")

    def close(self) -> None:
        pass


# --- the app ----------------------------------------------------------------------------------
class WebUI:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def _texts(self, turns: list[Turn]) -> dict[str, str]:
        return self.assistant.document_texts(c.doc_id for t in turns for c in t.citations)

    def respond(self, message: str, session: str | None) -> Iterator[tuple[Any, ...]]:
        """Answer ``message`` within the conversation (``session``, its id, kept by the
        browser tab); yields (chat, sources, notice, session, textbox) as the answer streams
        in."""
        question = (message or "").strip()
        if not question:
            # gr.Error would mark every output of the event with a red pill
            yield gr.skip(), gr.skip(), notice_update(None, "Type a question first."), session, ""
            return
        # The tab keeps the id; the conversation itself stays in the server's memory.
        session = session if isinstance(session, str) else self.assistant.new_session(keep=False)
        turns = self.assistant.conversation(session)
        turn = len(turns)
        shown = [*history(turns), _msg("user", _MD_SPECIAL.sub(r"\\\1", question))]
        yield (
            [*shown, _msg("assistant", "_Searching the documents…_")],
            gr.skip(),
            notice_update(None),
            session,
            "",
        )
        text, answer = "", None
        try:
            for piece in self.assistant.stream(question, session=session):
                if isinstance(piece, Answer):
                    answer = piece
                    break
                text += piece
                partial = [*shown, _msg("assistant", answer_markdown(text.strip(), turn))]
                yield partial, gr.skip(), gr.skip(), session, ""
        except AssistantError as exc:
            yield [*shown], gr.skip(), notice_update(None, str(exc)), session, ""
            return
        except Exception:
            log.exception("answering %r failed", question)
            error = "Something went wrong while answering; the server log has the details."
            yield [*shown], gr.skip(), notice_update(None, error), session, ""
            return
        turns = self.assistant.conversation(session)
        sources = sources_html(turns, self._texts(turns))
        yield history(turns), sources, notice_update(answer), session, ""

    def respond_example(self, session: str | None, evt: gr.SelectData) -> Iterator[tuple[Any, ...]]:
        value = evt.value
        yield from self.respond(value.get("text", "") if isinstance(value, dict) else "", session)

    def new_chat(self) -> tuple[Any, ...]:
        return [], EMPTY_SOURCES, notice_update(None), None, ""

    def documents(self) -> list[list[Any]]:
        """Title, date, source and chunk count of every indexed document."""
        try:
            docs = self.assistant.documents()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        return [[d["title"], d["published"] or "", d["source"], d["chunks"]] for d in docs]

    def upload(
        self,
        paths: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        """Save the files into the corpus's upload folder and ingest them."""
        if not paths:
            return gr.skip(), gr.skip(), None
        with contextlib.ExitStack() as stack:
            items = [
                (Path(p).name, stack.enter_context(open(p, "rb")), os.path.getsize(p))  # noqa: SIM115
                for p in paths
            ]
            results, _ = _shown(self.assistant.upload, items, progress=_bars(progress))
        lines = []
        for r in results:
            name = f"<strong>{html.escape(r.name)}</strong>"
            if r.indexed:
                note = f" ({html.escape(r.reason)})" if r.reason else ""
                docs = f"{r.documents} document{'s' if r.documents != 1 else ''}"
                lines.append(f"<p>{ICON_OK}<span>{name}: {docs} indexed{note}</span></p>")
            else:
                why = html.escape(r.reason or "")
                lines.append(f"<p>{ICON_FAILED}<span>{name}: not indexed: {why}</span></p>")
        return "".join(lines), self.documents(), None

    def fetch_urls(
        self,
        text: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        """Fetch the pasted article URLs (one a line) and ingest them."""
        urls = [u for u in (text or "").split() if u.strip()]
        if not urls:
            raise gr.Error("Paste one or more article URLs first.")
        results, _ = _shown(self.assistant.ingest_urls, urls, progress=_bars(progress))
        lines = []
        for r in results:
            if r.indexed:
                name = f"<strong>{html.escape(r.title or r.url)}</strong>"
                where = html.escape(r.source or r.url)
                lines.append(f"<p>{ICON_OK}<span>{name}: {r.status} ({where})</span></p>")
            else:
                name = f"<strong>{html.escape(r.url)}</strong>"
                why = html.escape(r.reason or "")
                lines.append(f"<p>{ICON_FAILED}<span>{name}: {why}</span></p>")
        return "".join(lines), self.documents(), ""

    def feeds(self) -> list[list[Any]]:
        """Each followed feed: name, URL, interval, last poll, items ingested, last error."""
        found = _shown(self.assistant.feeds)
        return [
            [
                f.title or "(not polled yet)",
                f.url,
                f"{f.interval / 60:g} min",
                f.last_poll or "never",
                f.items_ingested,
                f.last_result,
                f.last_error or "",
            ]
            for f in found
        ]

    def add_feed(self, url: str) -> tuple[Any, ...]:
        feed = _shown(self.assistant.add_feed, (url or "").strip())
        note = f"Following **{_md(feed.url)}**; it is polled every {feed.interval / 60:g} min."
        return note, self.feeds(), ""

    def poll(self) -> tuple[Any, ...]:
        """Poll every feed now (and scan the watched folders)."""
        report = _shown(self.assistant.watch_once)
        text = "\n\n".join(_md(line.strip()) for line in report.summary().split("\n"))
        return text, self.feeds(), self.documents()


def _shown(call: Callable[..., _T], *args: Any, **kw: Any) -> _T:
    """``call(...)``, its refusal shown to the user as a Gradio error."""
    try:
        return call(*args, **kw)
    except AssistantError as exc:
        raise gr.Error(str(exc)) from None


def _bars(progress: gr.Progress) -> Callable[[int, str], _Bar]:
    return lambda total, desc: _Bar(progress, total, desc)


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


FAVICON = Path(__file__).with_name("static") / "favicon.svg"
TITLE = "Newsroom assistant"
DESCRIPTION = "Ask your newsroom's documents: every sentence of the answer quotes its source."
FOOTER = (
    '<footer id="footer">Newsroom assistant · every answer quotes its sources · '
    '<a href="api/openapi.json" target="_blank" rel="noopener">JSON API</a> · '
    "OpenAI-compatible API at <code>/v1</code></footer>"
)


def build(assistant: Assistant) -> gr.Blocks:
    ui = WebUI(assistant)
    settings = assistant.settings
    with gr.Blocks(title=TITLE, fill_width=True) as demo:
        gr.Markdown(
            "## Newsroom assistant\nAnswers quote the documents; click a marker such as [1] "
            "to see the passage in its source."
        )
        if settings.server.api_token is not None or settings.server.ui_password is not None:
            # Plain HTML: Gradio's Markdown opens links in a new tab, and logging out must
            # leave this one.
            gr.HTML('<a href="logout" target="_self" id="logout">Log out</a>', js_on_load=None)
        session = gr.State(None)
        with gr.Tab("Chat"), gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="chatbot",
                    height="65vh",
                    placeholder="Ask about the documents: every sentence of the answer "
                    "quotes its source.",
                    examples=[{"text": q} for q in EXAMPLES],
                    feedback_options=None,
                    buttons=["copy"],
                )
                notice = gr.HTML("", elem_id="notice", visible=False, js_on_load=None)
                with gr.Row():
                    textbox = gr.Textbox(
                        placeholder="Ask a question, e.g. What support did NATO pledge to Ukraine?",
                        show_label=False,
                        max_length=settings.answer.max_question_chars,
                        submit_btn="Ask",
                        scale=8,
                        elem_id="question",
                    )
                    new_chat = gr.Button("New chat", scale=1, elem_id="new-chat")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(EMPTY_SOURCES, elem_id="sources", js_on_load=None)
        with gr.Tab("Documents") as docs_tab:
            table = gr.Dataframe(
                headers=["Title", "Date", "Source", "Chunks"],
                datatype=["str", "str", "str", "number"],
                interactive=False,
                wrap=True,
                elem_id="documents",
            )
            refresh = gr.Button("Refresh", size="sm")
            files = gr.File(
                label=f"Add documents ({', '.join(assistant.upload_types())}; up to "
                f"{settings.index.max_file_mb:g} MB each, {assistant.max_upload_files} at a time)",
                file_count="multiple",
                file_types=assistant.upload_types(),
                type="filepath",
                elem_id="upload",
            )
            status = gr.HTML(elem_id="upload-status", js_on_load=None)
            with gr.Row():
                url_box = gr.Textbox(
                    label="Add articles by URL (one a line): the page is fetched and its "
                    "article extracted",
                    lines=2,
                    scale=8,
                    elem_id="urls",
                )
                fetch = gr.Button("Fetch", scale=1, elem_id="fetch")
            gr.Markdown("### Feeds")
            feeds_table = gr.Dataframe(
                headers=["Feed", "URL", "Every", "Last poll", "Items", "Last result", "Last error"],
                datatype=["str", "str", "str", "str", "number", "str", "str"],
                interactive=False,
                wrap=True,
                elem_id="feeds",
            )
            with gr.Row():
                feed_box = gr.Textbox(
                    label="Follow a feed (RSS or Atom URL)", scale=6, elem_id="feed-url"
                )
                follow = gr.Button("Follow", scale=1, elem_id="follow")
                poll = gr.Button("Poll now", scale=1, elem_id="poll")
            feeds_status = gr.Markdown(elem_id="feeds-status")
        gr.HTML(FOOTER, js_on_load=None)

        outputs = [chatbot, sources, notice, session, textbox]
        textbox.submit(ui.respond, [textbox, session], outputs, api_name="respond")
        chatbot.example_select(
            ui.respond_example, [session], outputs, api_visibility="undocumented"
        )
        new_chat.click(ui.new_chat, None, outputs, api_visibility="private", queue=False)
        chatbot.clear(ui.new_chat, None, outputs, api_visibility="private", queue=False)
        demo.load(ui.documents, None, table, api_name="documents_on_load", api_visibility="private")
        docs_tab.select(
            ui.documents, None, table, api_name="documents_on_tab", api_visibility="private"
        )
        refresh.click(ui.documents, None, table, api_name="documents")
        files.upload(ui.upload, [files], [status, table, files], api_name="upload")
        fetch.click(ui.fetch_urls, [url_box], [status, table, url_box], api_name="fetch_urls")
        docs_tab.select(ui.feeds, None, feeds_table, api_visibility="private")
        refresh.click(ui.feeds, None, feeds_table, api_name="feeds")
        follow.click(
            ui.add_feed, [feed_box], [feeds_status, feeds_table, feed_box], api_name="add_feed"
        )
        poll.click(ui.poll, None, [feeds_status, feeds_table, table], api_name="poll_feeds")
    demo.queue(default_concurrency_limit=4, max_size=settings.server.max_queued_requests)
    return demo


def limit_queue_per_client(demo: gr.Blocks, per_client: int) -> None:
    """Each client address may have ``per_client`` events waiting or running in the UI's queue,
    as in the API (limits.py); more are refused at once, so one client's flood of questions
    cannot make every other user wait behind it."""
    queue = demo._queue
    push = queue.push

    async def limited_push(body: Any, request: Any, username: Any) -> Any:
        who = client_address(request.scope)
        live = sum(
            1 for e in list(queue.event_ids_to_events.values())
            if client_address(e.request.scope) == who
        )  # fmt: skip
        if per_client and live >= per_client:
            why = (
                f"too many questions from this client ({live} waiting or in progress); "
                "wait for an answer before asking more"
            )
            return False, why, "queue_full"
        return await push(body, request, username)

    queue.push = limited_push  # type: ignore[method-assign]


def mount(app: FastAPI, assistant: Assistant) -> FastAPI:
    """Mount the UI at / of ``app`` (after the API routes, which take precedence), and the
    page that shows a cited document in full. Credentials are the server's guard's business
    (guard.py), for the UI and the document page as for every other route."""
    s = assistant.settings
    # Whoever reaches a route got past the guard already.
    add_document_route(app, assistant, lambda _request: True)
    demo = build(assistant)
    limit_queue_per_client(demo, s.server.max_requests_per_client)
    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        server_name=s.server.host,
        server_port=s.server.port,
        theme=theme,
        css=CSS,
        head=HEAD,
        ssr_mode=False,
        max_file_size=int(s.index.max_file_mb * 1024 * 1024),
        footer_links=[],  # Gradio's "Use via API · Settings": ours is in the page
        favicon_path=str(FAVICON),
        show_error=True,
    )
    # Gradio's own check that input files were uploaded runs only for launched Blocks; a
    # mounted app is never "launched" (see gradio_files.py). UploadedFilesOnly is the first
    # line; this makes Gradio's check the second.
    demo.has_launched = True
    app.add_middleware(UploadedFilesOnly, blocks=demo)
    app.add_middleware(PageMeta, title=TITLE, description=DESCRIPTION)
    return app
