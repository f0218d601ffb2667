"""The `assistant` command: ingest / ask / chat / serve / watch / feeds / slack / eval / settings.

Commands parse flags and format output; the work is done by ``Assistant``.
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

import assistant  # noqa: F401  (sets the offline switches before any library loads)
from assistant.fronts.cli_base import (
    AsOfOpt,
    IndexOpt,
    LogFormatOpt,
    SinceOpt,
    TopKOpt,
    UntilOpt,
    _assistant,
    _errors,
    _fail,
    _filters,
    _log_to,
    _progress,
    app,
)


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
            _remember(a, answer)  # `assistant open N` opens this answer's sources, not older ones
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

    from assistant.fronts.connections import uvicorn_options
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
    _check_port(s.server.host, s.server.port)
    base = f"http://{s.server.host}:{s.server.port}"
    typer.echo(f"Web UI {base}/  JSON API {base}/api/ask  OpenAI API {base}/v1")
    from assistant.logs import show_info

    show_info("assistant.questions", log_format=s.server.log_format)  # one line a question
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
        **uvicorn_options(s.server),
        # X-Forwarded-* only from the proxies named: anyone else could claim any address.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )


def _check_port(host: str, port: int) -> None:
    """Fail plainly when the port is taken, before a banner promises a server there."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        _fail(f"cannot listen on {host}: {exc.strerror or exc}", 2)
    family, kind, _, _, address = infos[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                why = "already in use" if exc.errno == errno.EADDRINUSE else "not allowed"
                _fail(
                    f"port {port} on {host} is {why}: stop the other server, or pick another "
                    "port with --port (or the port setting)",
                    2,
                )
            _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2)


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


# watch and feeds come here in `assistant --help`, after the servers.
from assistant.fronts import cli_live  # noqa: E402, F401


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
    weekly: Annotated[
        bool,
        typer.Option(
            "--weekly",
            help="realtimeqa-weekly: ask each week's questions against an index of that "
            "week's articles, and again without the articles holding the answers.",
        ),
    ] = False,
    time_split: Annotated[
        str,
        typer.Option("--time-split", help="With --weekly: forward or reverse (see the docs)."),
    ] = "forward",
    parts: Annotated[
        str,
        typer.Option("--parts", help="With --weekly: which weeks, e.g. choose,report."),
    ] = "choose,report",
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep",
            help="With --weekly: choose the reader's threshold on the choosing weeks and "
            "report every part at it.",
        ),
    ] = False,
    every: Annotated[
        int,
        typer.Option(
            "--every",
            min=1,
            help="With --weekly: ask one week in every N (each week builds its own index).",
        ),
    ] = 1,
) -> None:
    """Ingest a benchmark's corpus and score retrieval and answers on its questions."""
    from assistant.app import Assistant
    from assistant.evaluation.runner import resolve_dataset, run_eval, use_eval_index
    from assistant.settings import load_settings

    if weekly:
        _weekly_eval(dataset, index, time_split, parts, sweep, as_json, every)
        return
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


def _weekly_eval(
    dataset: str,
    index: Path | None,
    split: str,
    parts: str,
    sweep: bool,
    as_json: bool,
    every: int = 1,
) -> None:
    from assistant.errors import DatasetError
    from assistant.evaluation.weekly import resolve_weekly, run_weekly_eval
    from assistant.evaluation.weekly_data import SPLITS
    from assistant.settings import load_settings

    with _errors():
        folder = resolve_weekly(dataset, [Path(__file__).resolve().parent])
        if folder is None:
            raise DatasetError(f"no realtimeqa-weekly folder at {dataset} (<year>/*_qa.jsonl)")
        if split not in SPLITS:
            raise DatasetError(f"unknown time split {split!r}; choose one of: {', '.join(SPLITS)}")
        chosen = [p.strip() for p in parts.split(",") if p.strip()]
        bad = [p for p in chosen if p not in ("train", "choose", "report")]
        if bad or (sweep and "choose" not in chosen):
            raise DatasetError("--parts takes train, choose and report (--sweep needs choose)")
        settings = load_settings()
        if index is not None:
            settings.index.index_dir = index
        report = run_weekly_eval(
            settings, folder, split, chosen, sweep, _progress,
            cache_dir=settings.index.index_dir / "eval-weekly", every=every,
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        typer.echo(report.table())


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
    """Print the effective settings as a config file: save it as assistant.toml and edit.
    Secrets are never printed (they are read from the environment only)."""
    from assistant.settings import SECRET_FIELDS, env_name

    a = _assistant(index_dir=index)
    for key, value in a.settings.public_dict().items():
        if key in SECRET_FIELDS:
            state = "set" if value is not None else "not set"
            typer.echo(f"# {key}: from the environment only ({env_name(key)}, {state})")
        elif value is None:
            typer.echo(f"# {key} = (not set)")  # TOML has no null
        elif key == "database_url" and ":***@" in str(value):
            typer.echo(f"# {key} = {json.dumps(value)}  (password masked: set {env_name(key)})")
        else:
            typer.echo(f"{key} = {json.dumps(value)}")


def main(argv: list[str] | None = None) -> None:
    app(args=argv)


if __name__ == "__main__":
    main()
