"""`assistant serve` as a person starts it: a process listening on a port, the web UI and the
APIs on one server (the routes themselves are tests/unit/test_api.py, in process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.samples import NATO_QUESTION, sample_assistant_in

TOKEN = "test-token-3f9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_serve_command_starts_one_server(tmp_path: Path) -> None:
    sample_assistant_in(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "assistant", "serve", "--index", "index", "--port", str(port)]
    env = {**os.environ, "ASSISTANT_API_TOKEN": TOKEN}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the server did not come up"
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        r = httpx.post(url + "/api/ask", json={"question": NATO_QUESTION}, headers=AUTH)
        assert r.status_code == 200 and r.json()["answered"] is True
        assert httpx.post(url + "/api/ask", json={"question": NATO_QUESTION}).status_code == 401
        assert httpx.get(url + "/").status_code == 401  # the token locks the UI too
        assert "gradio" in httpx.get(url + "/", headers=AUTH).text.lower()
        # Beside the UI mounted at /, unknown API paths still get the API's JSON errors.
        missing = httpx.get(url + "/api/nothing", headers=AUTH)
        assert missing.status_code == 404
        assert "no such endpoint" in missing.json()["error"]["message"]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert f"Web UI {url}/" in output
    assert TOKEN not in output
