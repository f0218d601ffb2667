"""Gradio's file inputs take only files a client uploaded, and never show a server path.

Gradio hands an event handler whatever file path a client names in a ``FileData`` object
(``{"path": ..., "meta": {"_type": "gradio.FileData"}}``), in any input, after copying that
file into its cache. Its check that the path is one it received through ``/gradio_api/upload``
only runs once the Blocks have *launched* (``gradio.processing_utils._check_allowed`` returns
early while ``blocks.has_launched`` is False), and ``gr.mount_gradio_app`` never sets that
flag: a mounted app copied and indexed any file the server could read (gradio 6.31).

``UploadedFilesOnly`` closes that at the HTTP level, before Gradio parses anything: every
``FileData`` path in a request to ``/gradio_api/`` must be one of the files Gradio stored for
an upload (``blocks.upload_file_set``), else the request is refused. It also keeps the server's
paths to itself: ``/gradio_api/upload`` answers with paths relative to Gradio's upload folder,
and those relative paths are mapped back when a client sends them (in an input or in
``/gradio_api/file=``). ``mount`` in web.py also sets ``has_launched``, so Gradio's own check
runs as a second line.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gradio.utils import get_upload_folder

from assistant.fronts.guard import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/gradio_api/"
UPLOAD = "/gradio_api/upload"
FILE_ROUTE = "/gradio_api/file="


class UploadedFilesOnly:
    def __init__(self, app: ASGIApp, blocks: Any) -> None:
        self.app = app
        self.blocks = blocks
        self.folder = os.path.abspath(get_upload_folder())

    def _uploaded(self) -> set[str]:
        return set(getattr(self.blocks, "upload_file_set", set()))

    def to_server(self, path: str) -> str | None:
        """The stored upload a client's path names, or None when it names anything else."""
        if not isinstance(path, str) or not path:
            return None
        full = os.path.normpath(os.path.join(self.folder, path))
        uploaded = self._uploaded()
        if full in uploaded and full.startswith(self.folder + os.sep):
            return full
        return path if path in uploaded else None

    def to_client(self, path: str) -> str:
        full = os.path.abspath(path)
        if full.startswith(self.folder + os.sep):
            return os.path.relpath(full, self.folder)
        return os.path.basename(full)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        if path == UPLOAD:
            await self.app(scope, receive, self._relative_paths(send))
            return
        if path.startswith(FILE_ROUTE):
            served = self.to_server(path[len(FILE_ROUTE) :])
            if served is not None:
                scope = {k: v for k, v in scope.items() if k != "raw_path"}
                scope["path"] = FILE_ROUTE + served
            await self.app(scope, receive, send)
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body, final = await _read_all(receive)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None  # not JSON: Gradio refuses it itself
        if data is not None:
            refused: list[str] = []
            data = self._map_files(data, refused)
            if refused:
                await _refuse(send, refused)
                return
            body = json.dumps(data).encode()
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _once(body, final, receive), send)

    def _map_files(self, data: Any, refused: list[str]) -> Any:
        if isinstance(data, list):
            return [self._map_files(x, refused) for x in data]
        if not isinstance(data, dict):
            return data
        if _is_file_data(data):
            served = self.to_server(data["path"])
            if served is None:
                refused.append(str(data["path"])[:200])
                return data
            return {**data, "path": served}
        return {k: self._map_files(v, refused) for k, v in data.items()}

    def _relative_paths(self, send: Send) -> Send:
        """Rewrites the upload route's JSON list of stored paths to relative ones."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewriting(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if start["status"] == 200:
                try:
                    paths = json.loads(body)
                except ValueError:
                    paths = None
                if isinstance(paths, list) and all(isinstance(p, str) for p in paths):
                    body = json.dumps([self.to_client(p) for p in paths]).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return rewriting


def _is_file_data(d: dict[str, Any]) -> bool:
    meta = d.get("meta")
    return "path" in d and isinstance(meta, dict) and meta.get("_type") == "gradio.FileData"


async def _read_all(receive: Receive) -> tuple[bytes, bool]:
    """The request body (the guard has already read and limited it, so this is a replay)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), False
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), True


def _once(body: bytes, complete: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent or not complete:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Send, paths: list[str]) -> None:
    message = (
        "files must be uploaded through /gradio_api/upload first; not an uploaded file: "
        + ", ".join(paths[:3])
    )
    body = json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "code": "not_uploaded"}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
