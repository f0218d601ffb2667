"""Shared pieces of the security tests (tests/security): credentials, in-process ASGI
calls, clients with their own loopback source address (the server tells clients apart by
address)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

TOKEN = "sec-token-5d1e8c2b9a44"
PASSWORD = "pw-desk-7f3a91c0"
USERNAME = "desk"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def from_address(url: str, address: str, **kw: Any) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z works on Linux)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, trust_env=False, **kw)


def asgi_get(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return asgi_request(app, "GET", path, headers=headers)


def asgi_request(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    """One request to ``app`` in process (no server, no lifespan)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


async def _raw_call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterable[bytes]
) -> tuple[int, int]:
    consumed = 0
    source = iter(chunks)
    status = 0
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        if done.is_set():
            await asyncio.sleep(3600)  # nothing more will come: the client is "still sending"
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        consumed += len(chunk)
        await asyncio.sleep(0)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("localhost", 80),
        "state": {},
    }
    task = asyncio.create_task(app(scope, receive, send))
    finished, _ = await asyncio.wait({task}, timeout=120)
    if not finished:
        task.cancel()
        raise AssertionError(f"{method} {path} did not answer within 120 s")
    return status, consumed


def raw_call(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: Iterable[bytes],
) -> tuple[int, int]:
    """Drive ``app`` with a body delivered chunk by chunk, as uvicorn does for
    ``Transfer-Encoding: chunked``; returns (status, body bytes the app pulled)."""
    encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return asyncio.run(_raw_call(app, method, path, encoded, chunks))
