"""The `assistant` command: ingest / ask / chat / serve / watch / feeds / slack / eval / settings.

Commands parse flags and format output; the work is done by ``Assistant``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

import assistant  # noqa: F401  (sets the offline switches before any library loads)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Ask questions about your documents; every answer cites its sources.",
)

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index directory (default: settings index_dir).")
]
TopKOpt = Annotated[int | None, typer.Option("--top-k", min=1, max=100, help="Chunks to retrieve.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only sources published on/after YYYY-MM-DD.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Only sources published on/before YYYY-MM-DD.")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Ask as if on YYYY-MM-DD: 'this week', 'recently' are read against it "
        "(default: the newest document's date).",
    ),
]


class LogFormat(StrEnum):
    text = "text"
    json = "json"


LogFormatOpt = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format",
        help="text, or json: one JSON object per line (time, level, logger, message, "
        "request_id). Default: settings log_format.",
    ),
]


def _fail(message: str, code: int = 1) -> None:
    from assistant.logs import redact

    typer.secho(f"error: {redact(message)}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@app.callback()
def _setup() -> None:
    """Ask questions about your documents; every answer cites its sources."""
    # Logging with secret redaction for every command; a bad setting is reported by the
    # command itself, so it is only skipped here.
    from assistant.logs import configure_logging
    from assistant.settings import load_settings

    try:
        settings = load_settings()
    except Exception:
        configure_logging()
        return
    configure_logging(settings.log_level, settings)


@contextmanager
def _errors() -> Iterator[None]:
    """Known failures become one clear line on stderr, never a traceback."""
    from pydantic import ValidationError

    from assistant.errors import AssistantError, DatasetError, InvalidRequest

    try:
        yield
    except ValidationError as exc:
        _fail("invalid settings:\n" + _validation_text(exc), 2)
    except AssistantError as exc:
        # 2: what was typed is unusable (a date, an empty question); 1: it could not be done.
        usage = isinstance(exc, InvalidRequest) and not isinstance(exc, DatasetError)
        _fail(str(exc), 2 if usage else 1)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", 130)


def _validation_text(exc: Any) -> str:
    return "\n".join(f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _assistant(**overrides: Any) -> Any:
    from assistant.app import Assistant
    from assistant.logs import install_redaction
    from assistant.settings import load_settings

    with _errors():
        settings = load_settings(**overrides)
        install_redaction(settings)
        return Assistant(settings)  # an LLM backend's extra and prompts are checked here


def _log_to(a: Any) -> None:
    """Logging as the command's settings say (a --log-format flag is only known here)."""
    from assistant.logs import configure_logging

    configure_logging(a.settings.log_level, a.settings)


def _filters(since: str | None, until: str | None) -> dict[str, Any] | None:
    """The date flags as filters; the core checks them (and names the field it rejects)."""
    if since is None and until is None:
        return None
    return {"since": since, "until": until}


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="chunk", disable=None, file=sys.stderr)


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders or http(s) URLs of articles (default: corpus/)."),
    ] = None,
    urls: Annotated[
        Path | None,
        typer.Option("--urls", help="A file of article URLs, one a line ('-' = stdin)."),
    ] = None,
    index: IndexOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files are gone.")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Delete the index and build it anew.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Embedding processes (default: settings ingest_workers, 1). With "
            "database_url, ingestions on several machines also share one queue.",
        ),
    ] = None,
) -> None:
    """Read, clean, chunk and embed documents into the index (incremental). URLs are
    fetched, and their articles extracted (an unchanged page costs one request)."""
    given = list(paths or [])
    links = [p for p in given if "://" in p]
    files = [Path(p) for p in given if "://" not in p]
    if urls is not None:
        with _errors():
            text = sys.stdin.read() if str(urls) == "-" else urls.read_text(encoding="utf-8")
        links += [u.strip() for u in text.splitlines() if u.strip() and not u.startswith("#")]
    a = _assistant(index_dir=index)
    results: list[Any] = []
    with _errors():
        if files or not links or prune or rebuild:
            report = a.ingest(
                files or None, prune=prune, rebuild=rebuild, progress=_progress, workers=workers
            )
        else:
            from assistant.types import IngestReport

            report = IngestReport()
        if links:
            results, fetched = a.ingest_urls(links, progress=_progress)
            report.merge(fetched)
    if as_json:
        out = report.to_dict()
        if links:
            out["urls"] = [r.to_dict() for r in results]
        typer.echo(json.dumps(out))
    else:
        typer.echo(report.summary())
    if links and not files and not any(r.indexed for r in results):
        raise typer.Exit(1)  # nothing could be fetched: a script should notice


PlainOpt = Annotated[
    bool,
    typer.Option(
        "--plain", help="No bold or colour even on a terminal (piped output is always plain)."
    ),
]
LAST_ANSWER = "last-answer.json"  # in the index folder: what `assistant open N` opens


def _print_answer(a: Any, answer: Any, plain: bool) -> None:
    from assistant.fronts.terminal import make_console, render_answer

    render_answer(answer, make_console(plain))
    _remember(a, answer)


def _remember(a: Any, answer: Any) -> None:
    """Keep the answer's citations for `assistant open N` (best effort: a read-only index
    folder only costs that command)."""
    from dataclasses import asdict

    path = Path(a.settings.index.index_dir) / LAST_ANSWER
    body = {"question": answer.question, "citations": [asdict(c) for c in answer.citations]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def _last_citations(a: Any) -> list[Any]:
    from assistant.types import Citation

    path = Path(a.settings.index.index_dir) / LAST_ANSWER
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return [Citation(**c) for c in body["citations"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_of: AsOfOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the answer contract as JSON.")
    ] = False,
    plain: PlainOpt = False,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            help='JSONL file of {"question": ..., "as_of": optional date} lines (\'-\' = stdin).',
        ),
    ] = None,
) -> None:
    """Answer one question (or a batch), citing the passages it comes from."""
    if (question is None) == (batch is None):
        _fail("give a QUESTION or --batch FILE (not both)", 2)
    a = _assistant(index_dir=index)
    filters = _filters(since, until)
    day = as_of
    if batch is None:
        with _errors():
            answer = a.ask(question or "", filters=filters, top_k=top_k, as_of=day)
        if as_json:
            typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        else:
            _print_answer(a, answer, plain)
        return
    with _errors():
        lines = (
            (sys.stdin if str(batch) == "-" else batch.open(encoding="utf-8")).read().splitlines()
        )
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        row = _batch_one(a, raw, lineno, filters, top_k, day)
        typer.echo(json.dumps(row, ensure_ascii=False))


def _batch_one(
    a: Any, raw: str, lineno: int, filters: Any, top_k: int | None, as_of: str | None = None
) -> dict[str, Any]:
    from assistant.errors import AssistantError

    try:
        item = json.loads(raw)
        q = item["question"] if isinstance(item, dict) else None
        if not isinstance(q, str):
            raise KeyError("question")
    except (ValueError, KeyError):
        return {"line": lineno, "error": 'expected a JSON object with a string "question"'}
    try:
        if item.get("as_of") is not None:
            as_of = str(item["as_of"])
        return dict(a.ask(q, filters=filters, top_k=top_k, as_of=as_of).to_dict())
    except AssistantError as exc:
        return {"line": lineno, "question": q, "error": str(exc)}


@app.command()
def chat(
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    plain: PlainOpt = False,
) -> None:
    """Interactive conversation; follow-up questions use the earlier turns."""
    from assistant.fronts.terminal import make_console

    a = _assistant(index_dir=index)
    session = a.new_session(keep=False)
    make_console(plain).print(
        "Ask about your documents. Empty line or Ctrl-D to quit; /new starts over; "
        "/open N shows source N in full."
    )
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo()
            return
        if not question:
            return
        if question == "/new":
            session = a.new_session(keep=False)
            typer.echo("(new conversation)")
            continue
        if question.split()[0] in ("/open", "/sources"):
            _open(a, question.split()[1] if len(question.split()) > 1 else "", plain, fatal=False)
            continue
        with _errors():
            answer = a.ask(question, session=session, top_k=top_k)
        typer.echo()
        _print_answer(a, answer, plain)


def _open(a: Any, which: str, plain: bool, fatal: bool = True) -> None:
    """Print source ``which``: a citation number of the last answer, or a document's source
    or id, with the last answer's quotes from it marked."""
    from assistant.errors import NotFound
    from assistant.fronts.terminal import make_console, render_document

    def fail(message: str) -> None:
        if fatal:
            _fail(message, 2)
        typer.secho(message, err=True, fg=typer.colors.RED)

    cited = _last_citations(a)
    selected: int | None = None
    if which.isdigit():
        by_n = {c.n: c for c in cited}
        if int(which) not in by_n:
            shown = ", ".join(str(n) for n in sorted(by_n)) or "none: ask a question first"
            return fail(f"no source [{which}] in the last answer (its sources: {shown})")
        selected = int(which)
        doc_id = by_n[selected].doc_id
    else:
        with _errors():
            docs = a.documents()
        match = [d["doc_id"] for d in docs if which in (d["doc_id"], d["source"], d["url"])]
        if not which or not match:
            return fail(
                f"give a source number from the last answer or a document's source; "
                f"no document {which!r}"
            )
        doc_id = match[0]
    try:
        doc = a.document(doc_id)
    except NotFound:
        return fail("that document is no longer in the index")
    marks = [c for c in cited if c.doc_id == doc_id]
    missing = render_document(doc, marks, make_console(plain), selected)
    if missing:
        typer.secho(
            "note: the document changed since the answer; quote(s) "
            + ", ".join(f"[{n}]" for n in missing)
            + " are no longer in it",
            err=True,
        )


@app.command("open")
def open_source(
    source: Annotated[
        str,
        typer.Argument(
            help="A source number of the last answer (as in [2]), or a document's source "
            "(file path or URL) or id."
        ),
    ],
    index: IndexOpt = None,
    plain: PlainOpt = False,
) -> None:
    """Print the stored text of a cited document with the quotes marked (`sources` too)."""
    _open(_assistant(index_dir=index), source.strip("[]"), plain)


app.command("sources", hidden=True)(open_source)


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default: settings host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port (default: settings port, 7860)."),
    ] = None,
    log_format: LogFormatOpt = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Listen beyond loopback without any credential (everyone who can reach the "
            "port can read and add documents).",
        ),
    ] = False,
) -> None:
    """Start the web UI, the JSON API and the OpenAI-compatible API in one server."""
    import uvicorn

    from assistant.fronts.http import SHUTDOWN_GRACE_SECONDS, create_app
    from assistant.logs import uvicorn_log_config
    from assistant.settings import is_loopback

    a = _assistant(
        index_dir=index, host=host, port=port, log_format=log_format and log_format.value
    )
    _log_to(a)
    server = a.settings.server
    if server.api_token is None and server.ui_password is None and not is_loopback(server.host):
        if not insecure:
            _fail(
                f"refusing to serve on {server.host} without credentials: anyone who can "
                "reach it could read and add documents. Set ASSISTANT_API_TOKEN (and "
                "ASSISTANT_UI_PASSWORD for people), or pass --insecure if that is what you want.",
                code=2,
            )
        typer.secho(
            f"warning: serving on {server.host} without credentials (--insecure): every "
            "route is open to anyone who can reach it.",
            err=True,
            fg=typer.colors.YELLOW,
        )
    with _errors():
        a.warm_up()  # a mismatched index fails here, not on the first request
        empty = a.is_empty()
        feeds = a.feeds() if a.settings.live.watch_in_serve else []
    s = a.settings
    watching = s.live.watch_in_serve and bool(feeds or s.live.watch_dirs)
    if empty:
        typer.secho(
            "warning: the index is empty: run `assistant ingest` or upload documents in the "
            "web UI's Documents tab.",
            err=True,
            fg=typer.colors.YELLOW,
        )
    base = f"http://{s.server.host}:{s.server.port}"
    typer.echo(f"Web UI {base}/  JSON API {base}/api/ask  OpenAI API {base}/v1")
    if s.live.watch_in_serve:
        from assistant.logs import show_info

        # What came in belongs in the server log, in its format.
        show_info("assistant.live", log_format=s.server.log_format)
        typer.echo(
            f"Following {len(feeds)} feed(s) and {len(s.live.watch_dirs)} folder(s)"
            + ("" if watching else "; feeds added later are picked up within a minute")
        )
    proxies = s.server.trusted_proxies.strip()
    uvicorn.run(
        create_app(a, watch=s.live.watch_in_serve),
        host=s.server.host,
        port=s.server.port,
        log_level="info",
        log_config=uvicorn_log_config(s.server.log_format),
        # Open streams (a browser tab's heartbeat) must not keep a stopping server alive.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        # X-Forwarded-* only from the proxies named: anyone else could claim any address.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )


@app.command("mcp")
def mcp_server(index: IndexOpt = None, log_format: LogFormatOpt = None) -> None:
    """Serve AI clients over the Model Context Protocol on stdin/stdout: tools ask, search
    and list_documents, and every document as a document:// resource."""
    a = _assistant(index_dir=index, log_format=log_format and log_format.value)
    _log_to(a)
    with _errors():
        from assistant.fronts.mcp import run_stdio

        a.warm_up()  # a mismatched index fails here, before the client's first call
        run_stdio(a)


@app.command()
def watch(
    dirs: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders to follow (default: settings watch_dirs)."),
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Poll every feed and scan every folder once, then exit."),
    ] = False,
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each round as JSON.")] = False,
) -> None:
    """Follow the news: poll the feeds (`assistant feeds add`) on their intervals and ingest
    new and changed items; ingest files added to or changed in the folders, and remove the
    documents of deleted ones."""
    import threading

    a = _assistant(index_dir=index, top_k=top_k)

    def show(report: Any) -> None:
        typer.echo(json.dumps(report.to_dict()) if as_json else report.summary())

    with _errors():
        watcher = a.watcher(dirs or None)
        if once:
            show(watcher.round(force=True))
            return
        from assistant.logs import show_info

        show_info("assistant.live", log_format=a.settings.server.log_format)
        typer.echo(
            f"Following {len(a.feeds())} feed(s) and {len(watcher.dirs)} folder(s); Ctrl-C stops.",
            err=True,
        )
        stop = threading.Event()
        try:
            watcher.run(stop, show)
        except KeyboardInterrupt:
            stop.set()


feeds_app = typer.Typer(no_args_is_help=True, help="Follow RSS and Atom feeds.")
app.add_typer(feeds_app, name="feeds")


def _feed_lines(feed: Any) -> list[str]:
    from assistant.types import printable

    every = _duration_text(feed.interval)
    lines = [f"{feed.id}  {printable(feed.title or '(not polled yet)')}  every {every}"]
    lines.append(f"    {printable(feed.url)}")
    poll = f"last poll {feed.last_poll}" if feed.last_poll else "never polled"
    lines.append(f"    {poll}; {feed.items_ingested} item(s) ingested; {feed.last_result or '-'}")
    if feed.last_error:
        lines.append(f"    last error: {printable(feed.last_error)}")
    return lines


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="The feed's URL (RSS or Atom).")],
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="Time between polls: 90, 30s, 15m, 2h (default settings feed_interval).",
        ),
    ] = None,
    index: IndexOpt = None,
) -> None:
    """Follow a feed: `assistant watch` (or `assistant serve`) polls it from now on."""
    a = _assistant(index_dir=index)
    with _errors():
        feed = a.add_feed(url, interval)
    typer.echo("\n".join(_feed_lines(feed)))


@feeds_app.command("list")
def feeds_list(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The followed feeds: last poll, items ingested, last error."""
    a = _assistant(index_dir=index)
    with _errors():
        found = a.feeds()
    if as_json:
        typer.echo(json.dumps([f.to_dict() for f in found]))
        return
    if not found:
        typer.echo("No feeds yet: `assistant feeds add URL`.")
    for feed in found:
        typer.echo("\n".join(_feed_lines(feed)))


@feeds_app.command("remove")
def feeds_remove(
    feed: Annotated[str, typer.Argument(help="The feed's URL or id (see `feeds list`).")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Also remove the documents of its items.")
    ] = False,
    index: IndexOpt = None,
) -> None:
    """Stop following a feed; its documents stay in the index unless --purge."""
    a = _assistant(index_dir=index)
    with _errors():
        removed, report = a.remove_feed(feed, purge=purge)
    typer.echo(f"no longer following {removed.url}")
    if purge:
        typer.echo(f"removed {report.docs_removed} document(s)")


@app.command("slack")
def slack_bot(
    http: Annotated[
        bool,
        typer.Option("--http", help="Serve the Events API over HTTP instead of Socket Mode."),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="HTTP port (default: settings slack_port)."),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="HTTP address (default: settings host).")
    ] = None,
    index: IndexOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Run the Slack bot: Socket Mode by default (SLACK_BOT_TOKEN + SLACK_APP_TOKEN), or the
    Events API at /slack/events with --http (SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET)."""
    from assistant.fronts import slack
    from assistant.logs import configure_logging

    if not http and (port is not None or host is not None):
        _fail("--port and --host apply to --http only (Socket Mode needs no port)", 2)
    a = _assistant(index_dir=index, log_format=log_format and log_format.value)
    # The bot reports what it serves and answers at INFO, unless told to say more.
    configure_logging("DEBUG" if a.settings.log_level == "DEBUG" else "INFO", a.settings)
    with _errors():
        if http:
            slack.run_http(
                a, a.settings, host or a.settings.server.host, port or a.settings.slack.port
            )
        else:
            slack.run_socket_mode(a, a.settings)


@app.command("eval")
def evaluate(
    dataset: Annotated[
        str,
        typer.Argument(
            help="Dataset folder (corpus.jsonl + <split>.jsonl), or a name found in "
            "shared/datasets/ above the working directory."
        ),
    ],
    split: Annotated[str, typer.Option("--split", help="Questions file: <split>.jsonl.")] = "dev",
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            help="Index directory (default: <index_dir>/eval-<dataset>-<settings hash>).",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N questions.")
    ] = None,
    misses: Annotated[
        bool,
        typer.Option(
            "--misses",
            help="Also list questions whose gold is not ranked first or whose answer lacks "
            "the gold answer (and why).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report (and per-question rows) as JSON.")
    ] = False,
    answer_runs: Annotated[
        bool,
        typer.Option(
            "--answer-runs",
            help="Also ask each question without its gold articles, and from five passages "
            "with and without the gold one: answered-right, refused-when-absent, false "
            "refusals, mean words (dev only).",
        ),
    ] = False,
) -> None:
    """Ingest a benchmark's corpus and score retrieval and answers on its questions."""
    from assistant.app import Assistant
    from assistant.evaluation.runner import resolve_dataset, run_eval, use_eval_index
    from assistant.settings import load_settings

    with _errors():
        settings = load_settings()
        folder = resolve_dataset(dataset, [Path(__file__).resolve().parent])
        use_eval_index(settings, folder, index)
        assistant = Assistant(settings)
        report = run_eval(assistant, folder, split=split, limit=limit, progress=_progress)
        runs = None
        if answer_runs:
            from assistant.evaluation.answer_runs import run_answer_evals

            runs = run_answer_evals(assistant, folder, split=split, limit=limit)
    if as_json:
        out = report.to_dict(with_results=misses)
        if runs is not None:
            out["answer_runs"] = runs.to_dict()
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    typer.echo(report.table())
    if runs is not None:
        typer.echo("\n" + runs.table())
    if misses:
        for r in report.results:
            if r.rank == 1 and r.contains_gold:
                continue
            answer = "" if r.contains_gold else f"; answer lacks {r.answer_text!r}: {r.miss}"
            week = f" (week {r.week})" if r.week else ""
            typer.echo(f"\n{r.qid}{week} rank {r.rank or '>10'}{answer}: {r.question}")
            typer.echo(f"  as of {r.as_of}; gold: {'; '.join(r.gold)}")
            for i, t in enumerate(r.top[:3], start=1):
                typer.echo(f"  {i}. {t}")


db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL database (database_url).")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the assistant's tables in database_url (safe to run again)."""
    a = _assistant()
    if not a.settings.index.database_url:
        _fail("database_url is not set (ASSISTANT_DATABASE_URL=postgresql://...)", 2)
    with _errors():
        applied = a.upgrade_database()
    for step in applied:
        typer.echo(f"applied {step}")
    typer.echo("the database is up to date" if applied else "the database was already up to date")


@app.command("settings")
def show_settings(index: IndexOpt = None) -> None:
    """Print the effective settings (secrets masked)."""
    a = _assistant(index_dir=index)
    for key, value in a.settings.public_dict().items():
        typer.echo(f"{key} = {json.dumps(value)}")


def main(argv: list[str] | None = None) -> None:
    app(args=argv)


if __name__ == "__main__":
    main()
