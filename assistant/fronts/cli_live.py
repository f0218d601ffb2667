"""`assistant watch` and `assistant feeds`: following the news as it comes in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.fronts.cli_base import IndexOpt, _assistant, _errors, app


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
    as_json: Annotated[bool, typer.Option("--json", help="Print each round as JSON.")] = False,
) -> None:
    """Follow the news: poll the feeds (`assistant feeds add`) on their intervals and ingest
    new and changed items; ingest files added to or changed in the folders, and remove the
    documents of deleted ones."""
    import threading

    a = _assistant(index_dir=index)

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
