"""``ollama``: a local Ollama server."""

from __future__ import annotations

from typing import Any

from assistant.answer.llms import register_llm
from assistant.settings import Settings


def make(settings: Settings) -> Any:
    from llama_index.llms.ollama import Ollama

    s = settings.llm
    return Ollama(
        model=s.model,
        base_url=s.ollama_url,
        request_timeout=s.timeout,
        # explicit, or Ollama truncates the prompt to its small default window
        context_window=s.context_tokens,
        temperature=s.temperature,
        additional_kwargs={"num_predict": s.max_tokens},
    )


def where(settings: Settings) -> str:
    return f"Ollama at {settings.llm.ollama_url} (model {settings.llm.model})"


register_llm("ollama", make, requires="llama_index.llms.ollama", where=where)
