"""`assistant ask` on a real pseudo-terminal: bold markers and titles, wrapped to the
terminal's width; the same text without escapes when piped or with --plain."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.fronts.cli import app
from tests.support.samples import NATO_QUESTION, ingested_folder
from tests.support.servers import cli_env
from tests.support.terminal import ANSI

runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the sample corpus ingested into ./index (the CLI's default)."""
    return ingested_folder(tmp_path_factory.mktemp("terminal"))


def run_in_terminal(args: list[str], cwd: Path, columns: int) -> str:
    """``assistant ARGS`` with a pseudo-terminal of ``columns`` columns as its stdout."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = cli_env()
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=subprocess.PIPE,
    )
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_terminal_shows_bold_markers_and_titles_piped_shows_none(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)
    out = run_in_terminal(["ask", NATO_QUESTION], workdir, columns=90)
    assert "\x1b[1m[1]\x1b[0m" in out, out
    assert "\x1b[1m“NATO Reaffirms Long-Term Support" in out  # the title in the answer
    assert "\x1b[1mSources:" in out
    assert max(len(ANSI.sub("", line)) for line in out.splitlines()) <= 90
    plain = run_in_terminal(["ask", NATO_QUESTION, "--plain"], workdir, columns=90)
    assert "\x1b" not in plain
    assert ANSI.sub("", out) == plain
    # Not a terminal (as when piped): the same text, no escapes.
    piped = runner.invoke(
        app, ["ask", NATO_QUESTION], env={"COLUMNS": "90", "TERM": "xterm-256color"}
    )
    assert piped.exit_code == 0, piped.output
    assert piped.stdout.rstrip("\n") == plain.rstrip("\n")
