"""The `assistant` command: ingest / ask / chat / serve / slack / eval / settings.

Commands parse flags and format output; the work is done by ``Assistant``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
        list[Path] | None, typer.Argument(help="Files or folders (default: corpus/).")
    ] = None,
    index: IndexOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files are gone.")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Delete the index and build it anew.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read, clean, chunk and embed documents into the index (incremental)."""
    a = _assistant(index_dir=index)
    with _errors():
        report = a.ingest(paths or None, prune=prune, rebuild=rebuild, progress=_progress)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    else:
        typer.echo(report.summary())


def format_answer(answer: Any) -> str:
    """Readable answer with numbered sources, for terminals."""
    lines = [answer.answer, ""]
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            date = f" ({c.published})" if c.published else ""
            where = c.url or c.source
            lines.append(f"[{c.n}] {c.title}{date} — {where}")
            # A block quote, not quote marks: the passage may be a quotation itself.
            lines.append(f"    > {c.quote}")
    for notice in answer.notices:
        lines.append(f"note: {notice}")
    return "\n".join(lines).rstrip()


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
        typer.echo(
            json.dumps(answer.to_dict(), ensure_ascii=False) if as_json else format_answer(answer)
        )
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
) -> None:
    """Interactive conversation; follow-up questions use the earlier turns."""
    a = _assistant(index_dir=index)
    session = a.new_session(keep=False)
    typer.echo("Ask about your documents. Empty line or Ctrl-D to quit; /new starts over.")
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
        with _errors():
            answer = a.ask(question, session=session, top_k=top_k)
        typer.echo(format_answer(answer))


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
) -> None:
    """Start the web UI, the JSON API and the OpenAI-compatible API in one server."""
    import uvicorn

    from assistant.fronts.http import create_app

    a = _assistant(index_dir=index, host=host, port=port)
    with _errors():
        a.warm_up()  # a mismatched index fails here, not on the first request
        empty = a.is_empty()
    s = a.settings
    if empty:
        typer.secho(
            "warning: the index is empty: run `assistant ingest` or upload documents in the "
            "web UI's Documents tab.",
            err=True,
            fg=typer.colors.YELLOW,
        )
    if s.server.api_token is None and s.server.host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(
            f"warning: serving on {s.server.host} without ASSISTANT_API_TOKEN: the API is open.",
            err=True,
            fg=typer.colors.YELLOW,
        )
    base = f"http://{s.server.host}:{s.server.port}"
    typer.echo(f"Web UI {base}/  JSON API {base}/api/ask  OpenAI API {base}/v1")
    uvicorn.run(create_app(a), host=s.server.host, port=s.server.port, log_level="info")


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
) -> None:
    """Run the Slack bot: Socket Mode by default (SLACK_BOT_TOKEN + SLACK_APP_TOKEN), or the
    Events API at /slack/events with --http (SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET)."""
    from assistant.fronts import slack
    from assistant.logs import configure_logging

    if not http and (port is not None or host is not None):
        _fail("--port and --host apply to --http only (Socket Mode needs no port)", 2)
    a = _assistant(index_dir=index)
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
        bool, typer.Option("--misses", help="Also list questions whose gold is not ranked first.")
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
    from assistant.evaluation.runner import eval_index_dir, resolve_dataset, run_eval
    from assistant.settings import load_settings

    with _errors():
        settings = load_settings()
        folder = resolve_dataset(dataset, [Path(__file__).resolve().parent])
        settings.index.index_dir = index or eval_index_dir(settings, folder)
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
        for r in report.misses():
            typer.echo(f"\n{r.qid} rank {r.rank or '>10'}: {r.question}")
            typer.echo(f"  as of {r.as_of}; gold: {'; '.join(r.gold)}")
            for i, t in enumerate(r.top[:3], start=1):
                typer.echo(f"  {i}. {t}")


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
