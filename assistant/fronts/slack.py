"""The Slack bot: a slack-bolt app that answers mentions and direct messages in threads.

Socket Mode (``run_socket_mode``) needs no public URL; the Events API over HTTP
(``slack_asgi_app``, ``run_http``) verifies every request's signature. Both acknowledge an
event at once and answer it afterwards on a worker thread, well inside Slack's 3 seconds.
Questions go to the shared ``Assistant``; this module only reads events and posts replies.

Tokens come from the environment (``Settings``); they are handed to the Slack SDK and never
formatted into a log line or a reply.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from assistant.app import Assistant
from assistant.errors import AssistantError, ConfigError, EmptyIndex
from assistant.fronts.slack_messages import (
    PERSON_SUBTYPES,
    SlackMessage,
    answer_messages,
    is_own,
    mentions,
    notice_message,
    plain_text,
    thread_history,
)
from assistant.settings import Settings
from assistant.types import Turn

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk import WebClient
    from starlette.applications import Starlette

log = logging.getLogger("assistant.fronts.slack")

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000  # Slack's event payloads are a few KB
THREAD_PAGES = 5  # conversations.replies pages (200 messages each) read for the history
WORKERS = 4
_SLACK_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds, as Slack sends them
APOLOGY = "Sorry, something went wrong while answering. The error has been logged."
EMPTY_INDEX = "Sorry, the document index is empty, so there is nothing to search yet."
HINT = (
    "Ask me a question about the documents, for example: “What support did NATO pledge to Ukraine?”"
)

P = ParamSpec("P")
T = TypeVar("T")


class SlackConfigError(ConfigError):
    """A token or secret the chosen mode needs is missing or malformed."""


def _secret(settings: Settings, name: str) -> str:
    value = settings.flat()[name]
    return value.get_secret_value().strip() if value is not None else ""


def check_config(settings: Settings, mode: str) -> None:
    """Fail early, naming the environment variable, when a mode's credentials are missing."""
    need = {"socket": ("slack_bot_token", "slack_app_token"), "http": ("slack_bot_token",)}
    if mode == "http":
        need["http"] += ("slack_signing_secret",)
    missing = [n.upper() for n in need[mode] if not _secret(settings, n)]
    if missing:
        raise SlackConfigError(
            f"set {' and '.join(missing)} in the environment "
            "(see 'Slack' in the README for where Slack shows them)"
        )
    if mode == "socket" and not _secret(settings, "slack_app_token").startswith("xapp-"):
        raise SlackConfigError(
            "SLACK_APP_TOKEN must be an app-level token (xapp-...) with connections:write"
        )


def slack_configured(settings: Settings) -> bool:
    """Whether the Events API endpoint can be served (for a server that mounts it optionally)."""
    try:
        check_config(settings, "http")
    except SlackConfigError:
        return False
    return True


def make_client(settings: Settings) -> WebClient:
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    return WebClient(
        token=_secret(settings, "slack_bot_token") or None,
        base_url=settings.slack.api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


class TrackingExecutor(ThreadPoolExecutor):
    """Bolt's listener pool, counting work in flight so shutdown (and tests) can wait until
    every acknowledged event has been answered."""

    def __init__(self, max_workers: int = WORKERS) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="slack-answer")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._idle:
            self._pending += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: object) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


class RecentKeys:
    """The last few thousand events and messages handled: Slack redelivers an event it thinks
    was lost (X-Slack-Retry-Num), and a mention in a DM can arrive both as app_mention and as
    message."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, *keys: str) -> bool:
        """True for the first caller with any of these keys; False when one was seen."""
        keys = tuple(k for k in keys if k)
        with self._lock:
            if any(k in self._keys for k in keys):
                return False
            for k in keys:
                self._keys[k] = None
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)
            return True


class SlackBot:
    """What the bot does with an event, independent of how the event arrived."""

    def __init__(self, assistant: Assistant, client: WebClient) -> None:
        self.assistant = assistant
        self.client = client
        self.seen = RecentKeys()
        self._locks = [threading.Lock() for _ in range(64)]

    # --- event entry points (bolt listeners) ---------------------------------------------
    def on_mention(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self.handle(event, body.get("event_id", ""), context, addressed=True)

    def on_message(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        if event.get("channel_type") == "im":
            self.handle(event, body.get("event_id", ""), context, addressed=True)
        elif not mentions(event.get("text", ""), context.bot_user_id):
            # A mention also arrives as app_mention; here only unaddressed thread replies.
            self.handle(event, body.get("event_id", ""), context, addressed=False)

    # --- the flow ------------------------------------------------------------------------
    def handle(self, event: dict[str, Any], event_id: str, context: Any, addressed: bool) -> None:
        bot_user_id, bot_id = context.bot_user_id, context.bot_id
        if event.get("bot_id") or event.get("subtype") not in PERSON_SUBTYPES:
            return  # other bots, edits, joins; bolt already drops the bot's own messages
        if is_own(event, bot_user_id, bot_id) or not event.get("user"):
            return
        channel, ts = event.get("channel", ""), event.get("ts", "")
        if not channel or not ts:
            return
        thread_ts = event.get("thread_ts") or ts
        in_thread = thread_ts != ts
        if not addressed and not in_thread:
            return  # channel chatter outside any thread the bot is in
        if not self.seen.claim(event_id and f"event:{event_id}", f"msg:{channel}:{ts}"):
            log.info("skipped a repeated delivery of event %s", event_id or ts)
            return
        # One answer at a time per thread, so a quick second follow-up reads the first one's
        # answer back as history (and the thread's session file has one writer).
        with self._thread_lock(channel, thread_ts):
            try:
                history: list[Turn] = []
                if in_thread:
                    messages = self.thread(channel, thread_ts)
                    if not addressed and not any(is_own(m, bot_user_id, bot_id) for m in messages):
                        return  # a thread the bot never answered in
                    history = thread_history(messages, bot_user_id, bot_id, before_ts=ts)
                question = plain_text(event.get("text", ""), bot_user_id)
                t0 = time.perf_counter()
                self.reply(channel, thread_ts, self.respond(question, channel, thread_ts, history))
                log.info(
                    "answered in %s (thread %s, %d earlier turns) in %.1f s",
                    channel,
                    thread_ts,
                    len(history),
                    time.perf_counter() - t0,
                )
            except Exception:
                log.exception("answering failed in %s (thread %s)", channel, thread_ts)
                self.apologise(channel, thread_ts)

    def _thread_lock(self, channel: str, thread_ts: str) -> threading.Lock:
        # Striped: a bounded set of locks; two threads rarely share one, and then just queue.
        return self._locks[hash((channel, thread_ts)) % len(self._locks)]

    def respond(
        self, question: str, channel: str, thread_ts: str, history: list[Turn]
    ) -> list[SlackMessage]:
        if not question:
            return [notice_message(HINT)]
        # The thread is the conversation: its messages carry the earlier turns (with their
        # citations in the message metadata), so any replica can continue it.
        try:
            answer = self.assistant.ask(question, history=history)
        except EmptyIndex:
            log.error("the index is empty: run `assistant ingest`")
            return [notice_message(EMPTY_INDEX)]
        except AssistantError as exc:
            if not exc.client_error:
                raise
            return [notice_message(f"Sorry, I can't answer that: {exc}.")]
        return answer_messages(answer)

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor = None
        for _ in range(THREAD_PAGES):
            resp = self.client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
            )
            messages += resp.get("messages") or []
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return messages

    def reply(self, channel: str, thread_ts: str, messages: list[SlackMessage]) -> None:
        from slack_sdk.errors import SlackApiError

        for m in messages:
            kwargs = {
                "channel": channel,
                "thread_ts": thread_ts,
                "unfurl_links": False,  # a preview per source would bury the answer
                "unfurl_media": False,
                **m.kwargs(),
            }
            try:
                self.client.chat_postMessage(**kwargs)
            except SlackApiError as exc:
                # Metadata only helps later follow-ups (they can be rebuilt from the text):
                # a workspace or proxy that refuses it must not cost the answer.
                if "metadata" not in str(exc.response.get("error", "")) or "metadata" not in kwargs:
                    raise
                log.warning("Slack refused the answer's metadata (%s)", exc.response.get("error"))
                del kwargs["metadata"]
                self.client.chat_postMessage(**kwargs)

    def apologise(self, channel: str, thread_ts: str) -> None:
        try:
            self.reply(channel, thread_ts, [notice_message(APOLOGY)])
        except Exception as exc:
            log.error("could not post the apology in %s: %s", channel, type(exc).__name__)


class _DropTokenSkippedWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client we pass (the one with
    slack_api_url) wins over it: true, intended, and alarming in a log. Drop that one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_token_warning_filter = _DropTokenSkippedWarning()


def build_app(
    assistant: Assistant, settings: Settings | None = None, mode: str = "http"
) -> tuple[App, SlackBot, TrackingExecutor]:
    """The bolt App with its listeners. ``mode`` is "http" (signature-verified Events API) or
    "socket" (Socket Mode, where Slack's connection itself is the authentication)."""
    try:
        from slack_bolt import App
    except ImportError:
        raise SlackConfigError(
            "the Slack bot needs its extra: pip install 'newsroom-assistant[slack]'"
        ) from None

    settings = settings or assistant.settings
    check_config(settings, mode)
    client = make_client(settings)
    bot = SlackBot(assistant, client)
    executor = TrackingExecutor()
    bolt_log = logging.getLogger("slack_bolt.App")
    if _token_warning_filter not in bolt_log.filters:
        bolt_log.addFilter(_token_warning_filter)
    app = App(
        name="newsroom-assistant",
        client=client,
        signing_secret=_secret(settings, "slack_signing_secret") if mode == "http" else "",
        request_verification_enabled=mode == "http",
        # auth.test runs on the first event instead of here: a server that mounts the app
        # starts even while Slack is unreachable.
        token_verification_enabled=False,
        # Acknowledge first, answer on the executor: the reply never delays the ack.
        process_before_response=False,
        listener_executor=executor,
    )
    app.event("app_mention")(bot.on_mention)
    app.event("message")(bot.on_message)
    return app, bot, executor


def slack_asgi_app(assistant: Assistant, settings: Settings | None = None) -> Starlette:
    """The Events API endpoint as an ASGI app that answers POSTs on any path, so a server can
    add it as a route: ``api.add_route("/slack/events", slack_asgi_app(a, s), methods=["POST"])``.
    """
    app, bot, executor = build_app(assistant, settings, mode="http")
    server = _starlette(app)
    # For a host server's shutdown hook (``executor.wait_idle``) and for tests.
    server.state.slack_bot = bot
    server.state.slack_executor = executor
    return server


def _starlette(app: App) -> Starlette:
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def events(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            return JSONResponse({"error": "Content-Length is required"}, 411)
        if int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request body too large"}, 413)
        # The signature check does int() on this header and raises on "abc" or "1e9": such a
        # request is as unsigned as one without it, and gets bolt's own refusal.
        if not _SLACK_TIMESTAMP.fullmatch(request.headers.get("x-slack-request-timestamp", "")):
            return JSONResponse({"error": "invalid request"}, 401)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request body too large"}, 413)
        # bolt's own Starlette handler dispatches on the event loop; auth.test and the
        # signature check would then block every other request of the server.
        bolt_resp = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_resp)

    return Starlette(routes=[Route("/{path:path}", events, methods=["POST"])])


# --- the `assistant slack` command's two ways of running --------------------------------
def verify_token(client: WebClient) -> str:
    """auth.test once at start-up: a wrong token is a clear error, not a silent bot."""
    from slack_sdk.errors import SlackApiError

    try:
        who = client.auth_test()
    except SlackApiError as exc:
        raise SlackConfigError(
            f"Slack rejected SLACK_BOT_TOKEN: {exc.response.get('error', 'unknown error')}"
        ) from None
    except OSError as exc:
        raise SlackConfigError(
            f"cannot reach the Slack Web API at {client.base_url}: {exc}"
        ) from None
    return f"@{who.get('user', '?')} in {who.get('team', who.get('team_id', '?'))}"


def _ready(assistant: Assistant) -> None:
    """Open the index and load the models before the first question arrives."""
    health = assistant.health()
    if not health["chunks"]:
        raise EmptyIndex(f"The index at {health['index']} is empty: run `assistant ingest` first.")
    assistant.retrieve("warm up", top_k=1)


def start_socket_mode(
    assistant: Assistant, settings: Settings
) -> tuple[SocketModeHandler, TrackingExecutor]:
    """Connect to Slack over Socket Mode; events are handled on background threads."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app, _bot, executor = build_app(assistant, settings, mode="socket")
    log.info("connected to Slack as %s", verify_token(app.client))
    _ready(assistant)
    handler = SocketModeHandler(app, _secret(settings, "slack_app_token"))
    handler.connect()
    log.info("listening over Socket Mode; Ctrl-C stops")
    return handler, executor


def run_socket_mode(assistant: Assistant, settings: Settings) -> None:
    handler, executor = start_socket_mode(assistant, settings)
    try:
        threading.Event().wait()
    finally:
        handler.close()
        drain(executor)


def run_http(assistant: Assistant, settings: Settings, host: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    from assistant.fronts.connections import uvicorn_options

    app, _bot, executor = build_app(assistant, settings, mode="http")
    log.info("connected to Slack as %s", verify_token(app.client))
    _ready(assistant)
    # The same kind of route the API server adds, so both serve the endpoint at one path.
    server = Starlette(routes=[Route(EVENTS_PATH, _starlette(app), methods=["POST"])])
    log.info("serving the Events API at http://%s:%d%s", host, port, EVENTS_PATH)
    try:
        uvicorn.run(
            server,
            host=host,
            port=port,
            log_config=None,
            log_level="info",
            **uvicorn_options(settings.server),
        )
    finally:
        drain(executor)


def drain(executor: TrackingExecutor, timeout: float = 30.0) -> None:
    if not executor.wait_idle(timeout):
        log.warning("stopped with answers still in progress")
    executor.shutdown(wait=False, cancel_futures=True)
