"""The HTTP server: JSON API, OpenAI-compatible endpoint, MCP, /metrics, and the web UI mounted
beside them.

Every route parses its input, calls the one shared ``Assistant`` and formats what it returns;
none holds retrieval or answering logic. Routes are plain ``def`` functions, so FastAPI runs the
blocking Assistant calls in its thread pool and requests are answered concurrently.

Errors are JSON in OpenAI's shape, ``{"error": {"message", "type", "code"}}``, for every route,
so the ``openai`` client reports our reasons; an unexpected failure is logged and answered with
a generic 500, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from assistant.app import Assistant, neutralise_markers, validate_url
from assistant.errors import AssistantError, ConfigError
from assistant.fronts.guard import BodyPolicy, Credentials, Guard
from assistant.fronts.limits import ConcurrencyLimit
from assistant.fronts.observe import RequestObserver
from assistant.fronts.origin import OriginCheck, allowed_hosts
from assistant.types import Answer

log = logging.getLogger(__name__)

MODEL_ID = "newsroom-assistant"
JSON_BODY_LIMIT = 4 * 1024 * 1024  # questions are short; a whole conversation fits easily
SOURCES_HEADING = "\n\nSources:\n"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")  # bodies up to the upload limit
SHUTDOWN_GRACE_SECONDS = 3  # after SIGTERM, open connections get this long, then are closed


class ApiError(AssistantError):
    """An HTTP-level refusal (no such route, wrong method, no credentials)."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", code: str = ""
    ) -> None:
        super().__init__(message, status=status)
        self.kind = kind
        self.code = code or "invalid_request"


def error_response(
    status: int, message: str, type_: str, code: str = "", headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "code": code or None}}
    return JSONResponse(body, status_code=status, headers=headers)


# --- request bodies ----------------------------------------------------------------------------
# Strict: "5" is not a top_k and "yes" is not a boolean; a client that sends them is told so
# rather than guessed at.
class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    since: str | None = Field(None, description="Only sources published on/after this date.")
    until: str | None = Field(None, description="Only sources published on/before this date.")
    sources: list[str] = Field(
        default_factory=list, max_length=100, description="Only these source ids."
    )


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    question: str
    session_id: str | None = Field(
        None, description="Continue this conversation (1-64 letters, digits, '-', '_')."
    )
    top_k: int | None = Field(None, ge=1, le=100)
    filters: FiltersIn | None = None


# Refused as a whole request: a URL that cannot be encoded cannot be echoed in the reply either.
UrlText = Annotated[str, AfterValidator(validate_url)]


class UrlsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: UrlText | None = Field(None, description="One web page to fetch and ingest.")
    urls: list[UrlText] = Field(default_factory=list, max_length=100, description="Several pages.")


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: UrlText = Field(description="An RSS or Atom feed to follow.")
    interval: str | float | None = Field(
        None, description="Seconds between polls, or e.g. '15m', '2h' (default feed_interval)."
    )


class _JsonBody(APIRoute):
    """A route that only takes JSON bodies, so another route on the same path and method
    (the multipart upload of /api/documents) takes the rest."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL:
            ctype = dict(scope.get("headers") or []).get(b"content-type", b"")
            if not ctype.split(b";")[0].strip().lower().endswith(b"json"):
                return Match.NONE, {}
        return match, child


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatIn(BaseModel):
    # Clients send temperature, max_tokens, ...: accepted and ignored (the answer is extractive).
    model_config = ConfigDict(extra="allow", strict=True)
    model: str = MODEL_ID
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    n: int = Field(1, description="Number of choices: the assistant gives one answer.")
    top_k: int | None = Field(None, ge=1, le=100)
    filters: FiltersIn | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, v: int) -> int:
        if v != 1:
            raise ValueError("the assistant gives one answer per request; n must be 1")
        return v


# --- translation between the wire and the Assistant -----------------------------------------------
def filters_dict(f: FiltersIn | None) -> dict[str, Any] | None:
    return None if f is None else f.model_dump()


def sources_text(answer: Answer) -> str:
    """The numbered source list that follows an answer in plain-text replies."""
    lines = []
    for c in answer.citations:
        date = f" ({c.published})" if c.published else ""
        # A title is document text: its "[3]" must not read as a citation, as in the answer.
        lines.append(f"[{c.n}] {neutralise_markers(c.title)}{date} — {c.url or c.source}")
    return SOURCES_HEADING + "\n".join(lines) if lines else ""


def message_text(m: MessageIn) -> str:
    if m.content is None or isinstance(m.content, str):
        return m.content or ""
    parts = []
    for part in m.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ApiError(422, f"unsupported content part of type {part.get('type')!r}")
        parts.append(part["text"])
    return "\n".join(parts)


def conversation(messages: list[MessageIn]) -> tuple[str, list[tuple[str, str]]]:
    """The question (last user message) and the exchanges before it, as (question, answer
    text) pairs: the client keeps the conversation, so its own text is the history."""
    said = [(m.role, message_text(m)) for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1][0] != "user":
        raise ApiError(422, "the last message must be the user's question", code="no_question")
    exchanges: list[tuple[str, str]] = []
    question: str | None = None
    for role, text in said[:-1]:
        if role == "user":
            question = text  # of two user messages in a row, the later one was answered
        elif question is not None:
            exchanges.append((question, text))
            question = None
    return said[-1][1], exchanges


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def stream_chunks(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str]:
    """OpenAI chat.completion.chunk events; the last one carries the citations."""
    base = {
        "id": completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_ID,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse({**base, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": ""})
    sep, item = "", first
    try:
        while not isinstance(item, Answer):
            # Paragraphs arrive with their blank line; send it before the next one instead,
            # so the streamed text equals the non-streamed reply exactly.
            yield chunk({"content": sep + item.rstrip("\n")})
            sep = "\n\n"
            item = next(rest)
    except Exception:  # headers are sent: report in-band rather than cutting the stream
        log.exception("streaming an answer failed")
        yield sse({"error": {"message": "internal error", "type": "server_error", "code": None}})
        yield sse("[DONE]")
        return
    if item.citations:
        yield chunk({"content": sources_text(item)})
    citations = [c.to_dict() for c in item.citations]
    yield chunk({}, "stop", citations=citations, answered=item.answered)
    yield sse("[DONE]")


def indexed_response(
    body: dict[str, Any], failed: list[str], total: int, code: str
) -> JSONResponse:
    """201 with ``body``; 422 with an error listing each reason when nothing was indexed."""
    if len(failed) < total:
        return JSONResponse(body, status_code=201)
    body["error"] = {
        "message": f"nothing could be indexed ({'; '.join(failed)})",
        "type": "invalid_request_error",
        "code": code,
    }
    return JSONResponse(body, status_code=422)


# --- the app --------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    stop_watching = None
    if getattr(app.state, "watch", False):
        # Feeds on their intervals and the watched folders, in a thread of this process.
        stop_watching = app.state.assistant.start_watching()
    async with contextlib.AsyncExitStack() as stack:
        mcp_running = getattr(app.state, "mcp_running", None)
        if mcp_running is not None:  # the MCP transport's session manager serves while we do
            await stack.enter_async_context(mcp_running())
        yield
    if stop_watching is not None:
        await anyio.to_thread.run_sync(stop_watching)
    slack = getattr(app.state, "slack", None)
    if slack is not None:  # let answers in flight reach their threads
        await anyio.to_thread.run_sync(slack.state.slack_executor.wait_idle, 30)


def _mount_slack(app: FastAPI, assistant: Assistant) -> None:
    """Serve Slack's Events API at /slack/events when the slack extra and its secrets are there.

    A route, not a mount: a mount answers POST /slack/events with a redirect to the slash form.
    """
    try:
        from assistant.fronts.slack import slack_asgi_app, slack_configured
    except ImportError:
        return
    if not slack_configured(assistant.settings):
        return
    slack = slack_asgi_app(assistant, assistant.settings)
    # Starlette accepts an ASGI app as a route endpoint; its stubs only name request handlers.
    app.add_route("/slack/events", slack, methods=["POST"])  # type: ignore[arg-type]
    app.state.slack = slack


def _mount_mcp(app: FastAPI, assistant: Assistant) -> None:
    """Serve MCP's streamable HTTP transport at /mcp when the mcp extra is installed (behind the
    server's guard, like every route). A route, not a mount (a mount redirects /mcp to
    /mcp/)."""
    try:
        from assistant.fronts.mcp import HTTP_PATH, http_app
    except ConfigError:  # the mcp extra is not installed
        return
    inner, running = http_app(assistant)
    # Starlette takes an ASGI app as a route endpoint only as an object, not a function (its
    # stubs name request handlers only).
    endpoint: Any = inner
    app.add_route(HTTP_PATH, endpoint, methods=["GET", "POST", "DELETE"])
    app.state.mcp_running = running


def create_app(assistant: Assistant, ui: bool = True, watch: bool = False) -> FastAPI:
    """The server: /api, /v1 and /health routes, and (``ui``) the Gradio app at /. With
    ``watch``, it also polls the feeds and follows the watched folders while it runs."""
    # No /docs: Swagger UI loads its scripts from a CDN, and the server must work offline.
    app = FastAPI(
        title="newsroom-assistant",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.assistant = assistant
    app.state.watch = watch
    _add_error_handlers(app)

    @app.get("/health", response_model=None)
    def health() -> dict[str, Any] | JSONResponse:
        """Index size, embedder and LLM backend, or 503 with what is wrong; needs no token."""
        try:
            return assistant.health()
        except AssistantError as exc:
            error = {"message": exc.message, "type": exc.kind, "code": exc.code}
            return JSONResponse({"status": "unavailable", "error": error}, status_code=503)

    api = APIRouter()

    @api.post("/api/ask")
    def ask(body: AskIn) -> dict[str, Any]:
        """One question -> the answer contract, plus the session_id to continue with."""
        # A one-off question's conversation stays in memory until the client comes back with
        # its session_id.
        session = body.session_id or assistant.new_session()
        answer = assistant.ask(
            body.question, session=session, filters=filters_dict(body.filters), top_k=body.top_k
        )
        return {**answer.to_dict(), "session_id": answer.session_id}

    @api.get("/api/documents")
    def documents() -> dict[str, Any]:
        docs = assistant.documents()
        return {"count": len(docs), "documents": docs}

    def ingest_urls(body: UrlsIn) -> JSONResponse:
        """Fetch web pages ({"url": ...} or {"urls": [...]}) and ingest their articles."""
        urls = ([body.url] if body.url else []) + body.urls
        results, report = assistant.ingest_urls(urls)
        out = {"urls": [r.to_dict() for r in results], "report": report.to_dict()}
        failed = [f"{r.url}: {r.reason}" for r in results if not r.indexed]
        return indexed_response(out, failed, len(results), "fetch_failed")

    # Before the multipart upload on the same path: this one takes only JSON bodies.
    api.add_api_route(
        "/api/documents", ingest_urls, methods=["POST"], route_class_override=_JsonBody
    )

    @api.post("/api/documents")
    def upload(files: Annotated[list[UploadFile], File()]) -> JSONResponse:
        """Save files into the corpus's upload folder and ingest them."""
        items = [(f.filename or "", f.file, f.size) for f in files]
        results, report = assistant.upload(items)
        body = {"files": [r.to_dict() for r in results], "report": report.to_dict()}
        failed = [f"{r.name}: {r.reason}" for r in results if not r.indexed]
        return indexed_response(body, failed, len(results), "upload_rejected")

    @api.get("/api/feeds")
    def feeds() -> dict[str, Any]:
        """The followed feeds: last poll, items ingested, last error."""
        found = [f.to_dict() for f in assistant.feeds()]
        return {"count": len(found), "feeds": found}

    @api.post("/api/feeds", status_code=201)
    def add_feed(body: FeedIn) -> dict[str, Any]:
        return assistant.add_feed(body.url, body.interval).to_dict()

    @api.delete("/api/feeds/{feed}")
    def remove_feed(feed: str, purge: bool = False) -> dict[str, Any]:
        """Stop following a feed (by id); ``purge`` also removes its documents."""
        removed, report = assistant.remove_feed(feed, purge=purge)
        return {"removed": removed.to_dict(), "report": report.to_dict()}

    @api.post("/api/feeds/poll")
    def poll() -> dict[str, Any]:
        """Poll every feed now (and scan the watched folders), whatever their intervals."""
        return assistant.watch_once().to_dict()

    @api.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics: requests, latencies, answers and refusals, ingestion, index
        size, queue depth (text exposition format)."""
        return Response(assistant.metrics.render(), media_type=assistant.metrics.content_type)

    @api.get("/v1/models")
    def models() -> dict[str, Any]:
        model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsroom-assistant"}
        return {"object": "list", "data": [model]}

    @api.post("/v1/chat/completions", response_model=None)
    def chat_completions(body: ChatIn) -> dict[str, Any] | StreamingResponse:
        """OpenAI-style chat: the last user message is the question, earlier ones the context."""
        question, history = conversation(body.messages)
        pieces = assistant.stream(
            question,
            history=history,
            filters=filters_dict(body.filters),
            top_k=body.top_k,
            drafts=False,  # an SSE stream cannot take back what verification drops
        )
        first = next(pieces)  # the answer is computed here, so errors still get a status
        if body.stream:
            return StreamingResponse(
                stream_chunks(first, pieces),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = first
        while not isinstance(answer, Answer):
            answer = next(pieces)
        message = {"role": "assistant", "content": answer.answer + sources_text(answer)}
        return {
            "id": completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "citations": [c.to_dict() for c in answer.citations],
            "answered": answer.answered,
        }

    app.include_router(api)
    _mount_slack(app, assistant)
    _mount_mcp(app, assistant)
    known: dict[str, set[str]] = {}
    for r in api.routes:
        known.setdefault(getattr(r, "path", ""), set()).update(getattr(r, "methods", set()))

    # Otherwise the UI mounted at / would answer these with its own, differently shaped 404.
    @app.api_route("/api/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
    def no_such_route(request: Request) -> None:
        path = request.url.path
        if path in known:
            allowed = ", ".join(sorted(known[path]))
            raise ApiError(405, f"{request.method} is not allowed on {path}; use {allowed}")
        raise ApiError(404, f"no such endpoint: {path}", code="not_found")

    if ui:
        from assistant.fronts.web import mount

        app = mount(app, assistant)
    _add_middleware(app, assistant, frozenset(known))
    return app


def _add_middleware(app: FastAPI, assistant: Assistant, known: frozenset[str]) -> None:
    """The layers every request passes, outermost last: request ids and metrics (so they see
    every refusal), then the origin check (Host, Origin, no CORS: before credentials, so a
    rebound or cross-site page is refused whatever it sends), the guard (credentials, and the
    body read within its limits), and only then the work slots: a client that stalls or has
    no credentials holds no slot."""
    settings = assistant.settings
    server = settings.server
    upload_limit = int(settings.index.max_file_mb * 1024 * 1024 * assistant.max_upload_files)
    upload_limit += 1 << 20  # the multipart framing around the files
    app.add_middleware(
        ConcurrencyLimit,
        max_concurrent=server.max_concurrent_requests,
        max_queued=server.max_queued_requests,
        queue_timeout=server.queue_timeout_seconds,
        paths=("/api/", "/v1/", "/mcp"),  # MCP tool calls answer questions too
        metrics=assistant.metrics,
        max_per_client=server.max_requests_per_client,
    )
    app.add_middleware(
        Guard,
        credentials=Credentials.from_settings(server),
        body=BodyPolicy(
            limit=JSON_BODY_LIMIT,
            upload_limit=upload_limit,
            upload_paths=UPLOAD_PATHS,
            timeout=server.body_timeout_seconds,
        ),
    )
    app.add_middleware(OriginCheck, hosts=allowed_hosts(server.host, server.allowed_hosts))
    app.add_middleware(RequestObserver, assistant=assistant, paths=known)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AssistantError)
    async def refused(request: Request, exc: AssistantError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if not exc.client_error:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(exc.status, exc.message, exc.kind, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            reasons.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return error_response(422, "; ".join(reasons) or "invalid request", "invalid_request_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error (see the server log)", "server_error")
