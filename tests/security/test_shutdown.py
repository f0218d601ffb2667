"""Finding 7 (medium): SIGTERM stops the server within a few seconds even while a browser
tab holds Gradio's heartbeat stream open."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.support.samples import SAMPLE_CORPUS
from tests.support.servers import cli_env, run_cli, start_serve, wait_http

GRACE_S = 20  # far above the server's own few seconds: only a hang fails this


def test_sigterm_with_an_open_heartbeat_stream(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    env = cli_env()
    assert run_cli(["ingest"], tmp_path, env).returncode == 0
    proc, url, log_path = start_serve(tmp_path, env)
    opened = threading.Event()

    def browser_tab() -> None:
        try:
            with (
                httpx.Client(timeout=None, trust_env=False) as c,
                c.stream("GET", f"{url}/gradio_api/heartbeat/tab-1") as r,
            ):
                opened.set()
                for _ in r.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass

    try:
        wait_http(f"{url}/health", 180, proc)  # type: ignore[arg-type]
        tab = threading.Thread(target=browser_tab, daemon=True)
        tab.start()
        assert opened.wait(30)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "still running after SIGTERM:\n" + log_path.read_text()[-2000:]
            ) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
