"""benchmarks/load.py drives a real server and reports throughput, latency, errors, memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_server import live_server
from tests.support.samples import sample_assistant_in

ROOT = Path(__file__).resolve().parents[2]


def run_load(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_load_against_a_live_server_reports_every_stage_and_sheds_overload(
    tmp_path: Path,
) -> None:
    a = sample_assistant_in(tmp_path, max_concurrent_requests=1, max_queued_requests=0)
    with live_server(a, tmp_path, ui=False) as server:
        r = run_load("--url", server.url, "--clients", "1", "6", "--duration", "3")
    assert r.returncode == 0, r.stderr
    rows = {int(m[1]): m[0] for m in re.finditer(r"^\s+(\d+)\s+\d+\s+\d+.*$", r.stdout, re.M)}
    assert set(rows) == {1, 6}, r.stdout
    assert rows[1].rstrip().endswith("none")  # one client never meets the limit
    assert re.search(r"503: \d+ \(Retry-After median \d+ s\)", rows[6]), rows[6]
    assert f"(pid {os.getpid()})" in r.stdout  # found the server's process by its port
    peak = float(rows[6].split()[7])
    assert peak > 100  # MB: this process holds the models


def test_only_loopback_servers_are_driven() -> None:
    r = run_load("--url", "http://example.com:80", "--clients", "1", "--duration", "1")
    assert r.returncode != 0 and "only drives a loopback server" in r.stderr
