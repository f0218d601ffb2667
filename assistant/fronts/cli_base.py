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
