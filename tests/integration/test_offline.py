"""Ingestion and answering work with every non-loopback connection refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.samples import NATO_QUESTION, ROOT

GUARD = """
import socket, sys
attempts = []
real = socket.socket.connect
def guarded(self, address):
    host = address[0] if isinstance(address, tuple) else address
    local = str(host).startswith("127.") or host in ("::1", "localhost")
    if self.family == socket.AF_UNIX or local:
        return real(self, address)
    attempts.append(address)
    raise OSError("blocked")
socket.socket.connect = guarded
real_gai = socket.getaddrinfo
def gai(host, *a, **k):
    if host not in (None, "localhost", "127.0.0.1", "::1"):
        attempts.append(host)
        raise socket.gaierror("blocked")
    return real_gai(host, *a, **k)
socket.getaddrinfo = gai
import atexit
atexit.register(lambda: attempts and print("NETWORK ATTEMPTS:", attempts, file=sys.stderr))
from assistant.fronts.cli import main
main(sys.argv[1:])
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return subprocess.run(
        [sys.executable, "-c", GUARD, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ingest_and_ask_with_network_blocked(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    r = _run(["ingest", str(ROOT / "corpus"), "--index", str(idx)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "NETWORK ATTEMPTS" not in r.stderr
    r = _run(["ask", NATO_QUESTION, "--json", "--index", str(idx)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"answered": true' in r.stdout
    assert "NETWORK ATTEMPTS" not in r.stderr
