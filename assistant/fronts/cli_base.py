"""What every `assistant` command shares: the Typer app, the common options, one error
mapping (known failures as one clear line, never a traceback) and the Assistant they call."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

import assistant  # noqa: F401  (sets the offline switches before any library loads)


def _help_type(self: Any, ctx: Any) -> str | None:
    """What the help's type column shows: nothing for a flag, click's plain words otherwise.
    typer 0.29 prints its own annotations there ("--json <bool>", "<list[Path]>"), which
    read as noise to a reporter; this keeps the column to what a value looks like."""
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    if getattr(self, "metavar", None) is not None:
        return str(self.metavar)
    shown = str(self.display_type(ctx) or "").strip("<>")
    many = shown.startswith("list[") or getattr(self, "nargs", 1) != 1
    shown = shown.removeprefix("list[").removesuffix("]")
    word = {"str": "TEXT", "path": "PATH", "file": "FILE", "float": "NUMBER"}.get(shown)
    if word is None:
        word = "INTEGER" if shown.startswith("int") else shown.upper() if shown else "VALUE"
        if "|" in shown:
            word = f"[{shown}]"
    return word + ("..." if many else "")


TyperOption.display_type_rich = _help_type  # type: ignore[method-assign]
TyperArgument.display_type_rich = _help_type  # type: ignore[method-assign]

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


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"newsroom-assistant {version('newsroom-assistant')}")
        raise typer.Exit()


@app.callback()
def _setup(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
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
        from assistant.settings import config_file

        where = config_file()
        origin = f" (from {where}, ASSISTANT_* variables or flags)" if where.is_file() else ""
        _fail(f"invalid settings{origin}:\n" + _validation_text(exc), 2)
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
