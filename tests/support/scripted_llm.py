"""``scripted``: an in-process LLM backend whose replies a test writes, for fast tests.

A llama-index ``CustomLLM`` registered through the real registry (``register_llm``), so the
assistant builds it, prompts it and verifies its answers exactly as it does a real backend's;
only the HTTP client and server are left out (tests/integration/test_llm_clients.py covers
those with the real clients against tests/support/fake_llm.py). Every request is recorded as
a ``Seen``, the record type of the HTTP fake, so the same scripts (llm_scripts.py) drive both::

    SCRIPT.reset()
    SCRIPT.responder = well_cited
    a = assistant.with_settings(llm="scripted")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback

from assistant.answer.llms import register_llm
from assistant.settings import Settings
from tests.support.fake_llm import Seen

NAME = "scripted"
PATH = "/v1/chat/completions"  # what Seen.path says: the request a chat client would send


class ScriptedFailure(ConnectionError):
    """What a failed request raises: a transport error with the HTTP status it stands for."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"scripted HTTP {status_code}")
        self.status_code = status_code


@dataclass
class Script:
    """What the model answers (``responder``), whether it fails (``status`` other than 200),
    and what it was asked (``requests``)."""

    responder: Callable[[Seen], str] = lambda seen: ""
    status: int = 200
    piece_chars: int = 12  # streamed replies come in pieces of about this many characters
    requests: list[Seen] = field(default_factory=list)

    def reset(self) -> None:
        self.responder = lambda seen: ""
        self.status = 200
        self.requests.clear()

    def reply(self, body: dict[str, Any]) -> str:
        seen = Seen(PATH, body)
        self.requests.append(seen)
        if self.status != 200:
            raise ScriptedFailure(self.status)
        return self.responder(seen)

    def pieces(self, text: str) -> list[str]:
        return [text[i : i + self.piece_chars] for i in range(0, len(text), self.piece_chars)]


SCRIPT = Script()  # the one script every ScriptedLLM reads; tests reset it


class ScriptedLLM(CustomLLM):
    model: str = "scripted"
    context_window: int = 8192
    num_output: int = 512

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            model_name=self.model,
            is_chat_model=True,
        )

    def _body(self, messages: Sequence[ChatMessage], stream: bool) -> dict[str, Any]:
        turns = [{"role": str(m.role.value), "content": m.content or ""} for m in messages]
        return {"model": self.model, "messages": turns, "stream": stream}

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = SCRIPT.reply(self._body(messages, stream=False))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        text = SCRIPT.reply(self._body(messages, stream=True))

        def gen() -> ChatResponseGen:
            so_far = ""
            for piece in SCRIPT.pieces(text):
                so_far += piece
                message = ChatMessage(role=MessageRole.ASSISTANT, content=so_far)
                yield ChatResponse(message=message, delta=piece)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        body = {"model": self.model, "prompt": prompt, "stream": False}
        return CompletionResponse(text=SCRIPT.reply(body))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = SCRIPT.reply({"model": self.model, "prompt": prompt, "stream": True})

        def gen() -> CompletionResponseGen:
            so_far = ""
            for piece in SCRIPT.pieces(text):
                so_far += piece
                yield CompletionResponse(text=so_far, delta=piece)

        return gen()


def _make(settings: Settings) -> ScriptedLLM:
    s = settings.llm
    return ScriptedLLM(model=s.model, context_window=s.context_tokens, num_output=s.max_tokens)


def _where(settings: Settings) -> str:
    return f"scripted LLM (model {settings.llm.model})"


register_llm(NAME, _make, requires="llama_index.core", where=_where)
