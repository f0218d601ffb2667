"""Finding 1 (critical): the web UI's upload must take only bytes a client sent, never a file
the server can read, and Gradio's cache must never receive a server file.

Gradio checks a client-given file path against its upload folder only once its Blocks have
*launched* (``gradio.processing_utils._check_allowed`` returns early while
``blocks.has_launched`` is False); ``gr.mount_gradio_app`` never sets that flag, so a mounted
app copied any readable path into its cache and handed it to the upload handler.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio.utils import get_upload_folder

from tests.support.live_server import LiveServer, sample_server

# Appears only in the server-side file (new each run: Gradio's cache outlives a test run).
MARK = f"Zanzibar-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from sample_server(tmp_path_factory.mktemp("paths"))


@pytest.fixture(scope="module")
def secret(server: LiveServer) -> Path:
    path = server.tmp / "private" / "plans.md"
    path.parent.mkdir()
    path.write_text(
        f"# Harbour sale\n\nThe council will sell the harbour to {MARK} on Monday, the mayor "
        "said in a private note.\n",
        encoding="utf-8",
    )
    return path


def file_data(path: str) -> dict[str, Any]:
    return {"path": path, "orig_name": "plans.md", "meta": {"_type": "gradio.FileData"}}


def call(server: LiveServer, api_name: str, data: list[Any]) -> str:
    """Gradio's REST-style call: POST the inputs, then read the event stream to its end."""
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as c:
        r = c.post(f"/gradio_api/call/{api_name}", json={"data": data})
        if r.status_code != 200:
            return f"refused {r.status_code}: {r.text}"
        return c.get(f"/gradio_api/call/{api_name}/{r.json()['event_id']}").text


def copies_in_cache() -> list[Path]:
    root = Path(get_upload_folder())
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            p = Path(folder) / name
            try:
                if MARK.encode() in p.read_bytes():
                    found.append(p)
            except OSError:
                continue
    return found


def indexed_sources(server: LiveServer) -> set[str]:
    return {d["source"] for d in server.assistant.documents()}


@pytest.mark.parametrize("form", ["absolute", "dotdot", "relative-to-cwd"])
def test_the_upload_handler_never_reads_a_server_path(
    server: LiveServer, secret: Path, form: str
) -> None:
    path = {
        "absolute": str(secret),
        "dotdot": str(Path(get_upload_folder()) / ".." / os.path.relpath(secret, "/tmp")),
        "relative-to-cwd": os.path.relpath(secret, os.getcwd()),
    }[form]
    before = indexed_sources(server)
    out = call(server, "upload", [[file_data(path)]])
    assert MARK not in out
    assert "indexed" not in out or "❌" in out
    assert indexed_sources(server) == before
    assert not (server.tmp / "corpus" / "uploads" / "plans.md").exists()
    assert copies_in_cache() == [], "a server file reached Gradio's cache"


def test_no_input_of_any_endpoint_copies_a_server_file(server: LiveServer, secret: Path) -> None:
    # A file object where the question text belongs: Gradio processes file objects found in
    # any input, so the guard may not look at the upload box alone.
    out = call(server, "respond", [file_data(str(secret)), None])
    assert MARK not in out
    assert copies_in_cache() == []


def test_a_file_the_client_uploaded_is_still_indexed(server: LiveServer, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    note = tmp_path / "roof.md"
    note.write_text(
        "# Library roof\n\nThe Elmridge council voted on Thursday to repair the library roof "
        "before winter, the mayor said.\n",
        encoding="utf-8",
    )
    client = Client(server.url + "/", verbose=False, download_files=False)
    try:
        status, _, _ = client.predict([handle_file(str(note))], api_name="/upload")
    finally:
        client.close()
    assert "roof.md</strong>: 1 document indexed" in status
    assert "uploads/roof.md" in indexed_sources(server)
