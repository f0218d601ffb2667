"""The Model Context Protocol server: the assistant as tools and resources for AI clients.

Desktop AI clients and agents that speak MCP get three tools and one resource per document:

- ``ask``: a question (optionally ``since``/``until``/``as_of``/``top_k``) -> the answer
  contract: the answer with ``[n]`` markers, its citations (quote, title, date, URL, offsets)
  and ``answered``;
- ``search``: the ranked passages for a query with their citation data, no answer composed;
- ``list_documents``: every indexed document;
- ``document://{doc_id}``: one document's title, date, URL and stored text, the text that
  citation offsets refer to, so a client can open a cited source in full.

Every citation, passage and document carries its ``document`` URI. Built on the official
``mcp`` SDK (the ``mcp`` extra): ``assistant mcp`` serves it over stdio, and ``assistant
serve`` mounts its streamable HTTP transport at /mcp. Like every front end it only parses
input and formats output; the work is the shared ``Assistant``'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import version
from typing import Annotated, Any

from pydantic import BaseModel, Field

from assistant.app import Assistant
from assistant.errors import AssistantError, ConfigError, NotFound
from assistant.fronts.origin import allowed_hosts, host_patterns
from assistant.types import Answer, Citation, Hit

try:
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
    from mcp.server.transport_security import TransportSecuritySettings
    from mcp.types import Resource, ToolAnnotations
except ImportError as exc:  # pragma: no cover - exercised by the install hint test
    raise ConfigError(
        "the MCP server needs the mcp extra: pip install 'newsroom-assistant[mcp]'"
    ) from exc

SERVER_NAME = "newsroom-assistant"
HTTP_PATH = "/mcp"
DOCUMENT_URI = "document://{doc_id}"
DOCUMENT_MIME = "application/json"
INSTRUCTIONS = (
    "Answers questions about the newsroom's documents (news articles, statements, reports). "
    "Every sentence of an answer carries a marker such as [1] that names the citation it "
    "quotes; a citation's quote is copied exactly from the document's stored text (start/end "
    "are offsets in it). When the documents do not support an answer, answered is false: do "
    "not answer from outside knowledge then. Read a cited document in full through its "
    "document:// resource."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

DateArg = Annotated[
    str | None,
    Field(description="ISO date YYYY-MM-DD; omit for no limit.", examples=["2023-01-01"]),
]
AsOfArg = Annotated[
    str | None,
    Field(
        description="As if on this date (YYYY-MM-DD): 'this week', 'recently' are read against "
        "it, later documents demoted. Default: the newest document's date."
    ),
]
TopKArg = Annotated[
    int | None, Field(ge=1, le=100, description="Passages to retrieve (default 8).")
]


def document_uri(doc_id: str) -> str:
    return DOCUMENT_URI.format(doc_id=doc_id)


# --- what the tools return (the output schemas clients see) -------------------------------------
class CitationOut(BaseModel):
    n: int = Field(description="The marker [n] in the answer that cites this passage.")
    source: str = Field(description="File path relative to the corpus, or the record's URL/id.")
    title: str
    url: str | None
    published: str | None = Field(description="Publication date, YYYY-MM-DD.")
    quote: str = Field(description="Copied exactly from the document's stored text.")
    start: int = Field(description="Offset of the quote in the document's stored text.")
    end: int
    answer_start: int | None = Field(
        None, description="Offset of the answer phrase the reader marked inside the quote."
    )
    answer_end: int | None = None
    document: str = Field(description="The document's resource URI (its full stored text).")


class PassageOut(BaseModel):
    rank: int
    score: float
    source: str
    title: str
    url: str | None
    published: str | None
    text: str = Field(description="The passage, as stored.")
    start: int = Field(description="Offset of the passage in the document's stored text.")
    end: int
    document: str


class AnswerOut(BaseModel):
    question: str
    standalone_question: str
    answered: bool = Field(description="False when the documents do not contain the answer.")
    answer: str = Field(description="The answer; each sentence carries markers like [1].")
    citations: list[CitationOut]
    retrieved: list[PassageOut] = Field(description="The passages the answer was drawn from.")
    timings_ms: dict[str, float]
    notices: list[str] = Field(description="Notes such as which source is the newest.")


class SearchOut(BaseModel):
    query: str
    passages: list[PassageOut]


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    title: str
    url: str | None
    published: str | None
    chunks: int
    document: str


class DocumentsOut(BaseModel):
    count: int
    documents: list[DocumentOut]


def citation_out(c: Citation) -> CitationOut:
    return CitationOut(**c.to_dict(), document=document_uri(c.doc_id))


def passage_out(h: Hit) -> PassageOut:
    ch = h.chunk
    return PassageOut(
        rank=h.rank,
        score=round(h.score, 6),
        source=ch.source,
        title=ch.title,
        url=ch.url,
        published=ch.published,
        text=ch.text,
        start=ch.start,
        end=ch.end,
        document=document_uri(ch.doc_id),
    )


def answer_out(a: Answer) -> AnswerOut:
    contract = a.to_dict()
    return AnswerOut(
        question=a.question,
        standalone_question=a.standalone_question,
        answered=a.answered,
        answer=a.answer,
        citations=[citation_out(c) for c in a.citations],
        retrieved=[passage_out(h) for h in a.retrieved],
        timings_ms=contract["timings_ms"],
        notices=list(a.notices),
    )


def _filters(since: str | None, until: str | None) -> dict[str, Any] | None:
    return None if since is None and until is None else {"since": since, "until": until}


# --- the server ---------------------------------------------------------------------------------
class _Server(MCPServer):
    """MCPServer whose resource list is the index's documents at the time of asking (uploads
    and ingestion change it while a client is connected)."""

    def __init__(self, assistant: Assistant) -> None:
        super().__init__(
            SERVER_NAME,
            instructions=INSTRUCTIONS,
            version=version("newsroom-assistant"),
            log_level="WARNING",
        )
        self.assistant = assistant

    async def list_resources(self) -> list[Resource]:
        listed = await super().list_resources()
        docs = await anyio.to_thread.run_sync(self.assistant.documents)
        return listed + [
            Resource(
                uri=document_uri(d["doc_id"]),
                name=d["doc_id"],
                title=d["title"] or d["source"],
                description=" · ".join(x for x in (d["published"], d["url"] or d["source"]) if x),
                mime_type=DOCUMENT_MIME,
            )
            for d in docs
        ]


def build_server(assistant: Assistant) -> MCPServer:
    """The MCP server over ``assistant``: tools ask/search/list_documents, document resources."""
    server = _Server(assistant)

    @server.tool(annotations=READ_ONLY)
    def ask(
        question: Annotated[str, Field(description="The question, in plain language.")],
        since: DateArg = None,
        until: DateArg = None,
        as_of: AsOfArg = None,
        top_k: TopKArg = None,
    ) -> AnswerOut:
        """Answer a question from the indexed documents. Every sentence of the answer cites
        the passage it quotes ([n] -> citations[n]); answered is false when the documents do
        not contain the answer. Use since/until to restrict sources by publication date."""
        try:
            answer = assistant.ask(
                question, filters=_filters(since, until), top_k=top_k, as_of=as_of
            )
        except AssistantError as exc:
            raise ToolError(str(exc)) from None
        return answer_out(answer)

    @server.tool(annotations=READ_ONLY)
    def search(
        query: Annotated[str, Field(description="What to look for.")],
        since: DateArg = None,
        until: DateArg = None,
        as_of: AsOfArg = None,
        top_k: TopKArg = None,
    ) -> SearchOut:
        """The passages of the indexed documents that best match the query, ranked, with the
        data to cite them (title, date, URL, offsets in the document); no answer is
        composed."""
        try:
            hits = assistant.retrieve(
                query, top_k=top_k, filters=_filters(since, until), as_of=as_of
            )
        except AssistantError as exc:
            raise ToolError(str(exc)) from None
        return SearchOut(query=query, passages=[passage_out(h) for h in hits])

    @server.tool(annotations=READ_ONLY)
    def list_documents() -> DocumentsOut:
        """Every indexed document (title, date, URL, source, chunks), newest first, with the
        document:// URI that opens its full text."""
        try:
            docs = assistant.documents()
        except AssistantError as exc:
            raise ToolError(str(exc)) from None
        out = [DocumentOut(**d, document=document_uri(d["doc_id"])) for d in docs]
        return DocumentsOut(count=len(out), documents=out)

    @server.resource(
        DOCUMENT_URI,
        name="document",
        title="An indexed document",
        description="A document's title, date, URL, source and stored text (the text citation "
        "offsets refer to), as JSON.",
        mime_type=DOCUMENT_MIME,
    )
    def document(doc_id: str) -> str:
        try:
            doc = assistant.document(doc_id)
        except NotFound as exc:
            raise ResourceNotFoundError(str(exc)) from None
        return json.dumps(doc, ensure_ascii=False)

    return server


def http_app(assistant: Assistant) -> tuple[Any, Callable[[], AbstractAsyncContextManager[Any]]]:
    """The streamable HTTP transport as an ASGI app answering at ``HTTP_PATH``, and the
    context manager the host server must hold open while it serves (the session manager).

    Stateless, with plain JSON responses: every call stands alone (the tools keep no
    conversation), so any worker can answer it and proxies need no SSE support."""
    server = build_server(assistant)
    settings = assistant.settings.server
    # The SDK's own DNS-rebinding check, with the host names the whole server answers for
    # (origin.py), not only the loopback ones it assumes: one list, for /mcp as for every route.
    hosts = host_patterns(allowed_hosts(settings.host, settings.allowed_hosts))
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    security = TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)
    app = server.streamable_http_app(
        streamable_http_path=HTTP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=security,
    )
    return app, server.session_manager.run


def run_stdio(assistant: Assistant) -> None:
    """Serve MCP over this process's stdin/stdout until the client disconnects."""
    build_server(assistant).run("stdio")
