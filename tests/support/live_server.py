"""The real server (uvicorn + FastAPI + Gradio) on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from assistant.app import Assistant
from assistant.fronts.connections import uvicorn_options
from assistant.fronts.http import create_app


@dataclass
class LiveServer:
    url: str
    assistant: Assistant
    tmp: Path


@contextmanager
def live_server(assistant: Assistant, tmp: Path, ui: bool = True) -> Iterator[LiveServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours from here on: no race with other tests
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(assistant, ui=ui),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
        **uvicorn_options(assistant.settings.server),  # as `assistant serve` runs it
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", assistant, tmp)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def sample_server(tmp: Path, **settings: object) -> Iterator[LiveServer]:
    """A module fixture's body: the sample corpus indexed in ``tmp``, served until the end."""
    from tests.support.samples import sample_assistant_in

    with live_server(sample_assistant_in(tmp, **settings), tmp) as srv:
        yield srv
