"""Real servers and CLI processes for tests: a Chroma server on a loopback port, `assistant`
subprocesses, all bounded in time and cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.support.samples import ROOT

# Loopback only, and no proxy may stand in between (urllib and httpx honour *_PROXY).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers 2xx, the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with _DIRECT.open(url, timeout=1) as resp:
                if 200 <= resp.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


@contextlib.contextmanager
def chroma_server(workdir: Path, timeout: float = 60) -> Iterator[str]:
    """`chroma run` on a free loopback port, persisting in ``workdir/db``; yields its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    chroma = Path(sys.executable).parent / "chroma"
    port = free_port()
    with (workdir / "chroma.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(workdir / "db"), "--host", "127.0.0.1"]
            + ["--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/api/v2/heartbeat", timeout, proc)
            yield url
        finally:
            stop(proc)


def cli_env(**assistant_env: str) -> dict[str, str]:
    """The environment of an `assistant` subprocess: ours plus ASSISTANT_<KEY> overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({f"ASSISTANT_{k.upper()}": v for k, v in assistant_env.items()})
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_serve(cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`assistant serve` on a free loopback port, its output in ``cwd/serve-<port>.log``;
    returns the process, its URL and the log's path."""
    port = free_port()
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}", log_path


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """An `assistant` subprocess whose stderr (logs) can be read line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def kill_when(
    proc: subprocess.Popen[str],
    needle: str | None,
    after_s: float,
    timeout: float,
    occurrence: int = 1,
) -> str:
    """SIGKILL ``proc`` ``after_s`` seconds after the ``occurrence``-th stderr line containing
    ``needle`` (or ``after_s`` seconds from now when ``needle`` is None). Returns the stderr
    read so far. Raises if the process ends by itself first: the kill must land mid-run.
    """
    import queue
    import threading

    assert proc.stderr is not None
    stream = proc.stderr
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")  # end of stream

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    hits = 0
    deadline = time.monotonic() + timeout
    fire_at = time.monotonic() + after_s if needle is None else None
    while True:
        now = time.monotonic()
        if fire_at is not None and now >= fire_at:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            return "".join(seen)
        if now > deadline:
            proc.kill()
            proc.wait(30)
            raise TimeoutError("the kill point was not reached:\n" + "".join(seen[-50:]))
        try:
            line = lines.get(timeout=0.05 if fire_at is None else max(0.0, fire_at - now))
        except queue.Empty:
            continue
        if not line:
            proc.wait(30)
            raise AssertionError(
                f"process ended (rc={proc.returncode}) before the kill:\n" + "".join(seen[-50:])
            )
        seen.append(line)
        if fire_at is None and needle is not None and needle in line:
            hits += 1
            if hits == occurrence:
                fire_at = time.monotonic() + after_s
