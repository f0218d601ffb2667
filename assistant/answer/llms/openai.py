"""``openai``: any OpenAI-compatible server (OpenAI, llama.cpp's server, vLLM, LM Studio...)."""

from __future__ import annotations

from typing import Any

from assistant.answer.llms import register_llm
from assistant.settings import Settings

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def make(settings: Settings) -> Any:
    from llama_index.llms.openai_like import OpenAILike

    s = settings.llm
    return OpenAILike(
        model=s.model,
        api_base=s.base_url or OPENAI_DEFAULT_URL,
        # servers such as llama.cpp take no key, but the client insists on one
        api_key=s.key() or "no-key",
        is_chat_model=s.chat,
        context_window=s.context_tokens,
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        timeout=s.timeout,
        # Retries are ours (LLMAnswerer.generate): the client's own would multiply with
        # llama-index's and ignore what was already streamed.
        max_retries=0,
    )


def where(settings: Settings) -> str:
    url = settings.llm.base_url or OPENAI_DEFAULT_URL
    return f"LLM server at {url} (model {settings.llm.model})"


register_llm("openai", make, requires="llama_index.llms.openai_like", where=where)
