"""A scripted LLM server on 127.0.0.1 for tests: OpenAI-compatible (/v1/chat/completions and
/v1/completions, streamed as SSE or not) and Ollama (/api/chat, NDJSON or not).

The real client libraries (llama-index's OpenAILike and Ollama, over openai / ollama / httpx)
talk to it over loopback. Each request is recorded; the reply comes from ``responder``, a
function of the request's prompt, so tests can script a model (one that cites the evidence
it was given, or one that obeys any instruction it sees outside the evidence).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass
class Seen:
    """One request the server received."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages") or [])

    @property
    def prompt(self) -> str:
        """Everything the model was given, as one text."""
        if "prompt" in self.body:
            p = self.body["prompt"]
            return p if isinstance(p, str) else "\n".join(p)
        return "\n\n".join(str(m.get("content", "")) for m in self.messages)


@dataclass
class FakeLLM:
    responder: Callable[[Seen], str] = lambda seen: ""
    status: int = 200  # anything else: that HTTP error, with an OpenAI-style error body
    delay: float = 0.0  # seconds to wait before answering (a slow server)
    piece_chars: int = 12  # streamed replies come in pieces of about this many characters
    requests: list[Seen] = field(default_factory=list)
    url: str = ""

    def reset(self) -> None:
        self.responder = lambda seen: ""
        self.status = 200
        self.delay = 0.0
        self.requests.clear()

    # --- the app --------------------------------------------------------------------------
    def app(self) -> FastAPI:
        app = FastAPI()

        async def handle(request: Request, kind: str) -> Response:
            body = await request.json()
            seen = Seen(request.url.path, body, dict(request.headers))
            self.requests.append(seen)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.status != 200:
                return JSONResponse(
                    {"error": {"message": "scripted failure", "type": "server_error"}},
                    status_code=self.status,
                )
            reply = self.responder(seen)
            pieces = [
                reply[i : i + self.piece_chars] for i in range(0, len(reply), self.piece_chars)
            ]
            model = body.get("model", "fake")
            if kind == "ollama":
                if body.get("stream", True):
                    return StreamingResponse(
                        _ndjson(pieces, model), media_type="application/x-ndjson"
                    )
                return JSONResponse(_ollama_message(model, reply, done=True))
            if seen.stream:
                return StreamingResponse(_sse(kind, pieces, model), media_type="text/event-stream")
            return JSONResponse(_openai_body(kind, reply, model))

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            return await handle(request, "chat")

        @app.post("/v1/completions")
        async def completions(request: Request) -> Response:
            return await handle(request, "completion")

        @app.post("/api/chat")
        async def ollama_chat(request: Request) -> Response:
            return await handle(request, "ollama")

        return app


def _openai_body(kind: str, text: str, model: str) -> dict[str, Any]:
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    if kind == "chat":
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
        obj = "text_completion"
    return {
        "id": "fake-1",
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


async def _sse(kind: str, pieces: list[str], model: str) -> AsyncIterator[str]:
    for i, piece in enumerate([*pieces, None]):
        last = piece is None
        if kind == "chat":
            delta = {} if last else {"content": piece, **({"role": "assistant"} if i == 0 else {})}
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "finish_reason": "stop" if last else None,
            }
            obj = "chat.completion.chunk"
        else:
            choice = {
                "index": 0,
                "text": "" if last else piece,
                "finish_reason": "stop" if last else None,
                "logprobs": None,
            }
            obj = "text_completion"
        chunk = {
            "id": "fake-1",
            "object": obj,
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
        }
        yield f"data: {json.dumps(chunk)}\n\n"
        await asyncio.sleep(0)
    yield "data: [DONE]\n\n"


def _ollama_message(model: str, content: str, done: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": model,
        "created_at": "2024-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        out.update({"done_reason": "stop", "prompt_eval_count": 1, "eval_count": 1})
    return out


async def _ndjson(pieces: list[str], model: str) -> AsyncIterator[str]:
    for piece in pieces:
        yield json.dumps(_ollama_message(model, piece, done=False)) + "\n"
        await asyncio.sleep(0)
    yield json.dumps(_ollama_message(model, "", done=True)) + "\n"


class Running:
    """The fake served by uvicorn in a thread, on a free loopback port."""

    def __init__(self, fake: FakeLLM) -> None:
        self.fake = fake
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.02)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
