"""LLM backends by name: one registry, one module per backend, loaded only when chosen.

A backend registers itself when its module is imported::

    register_llm("name", factory, requires="llama_index.llms.x", where=describe)

where ``factory(settings)`` returns a llama-index ``LLM``. Built-in backends (``openai``: any
OpenAI-compatible server; ``ollama``) are modules of this package, imported on first use of
their name; ``requires`` lets a missing extra be reported at start with its install command.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.errors import LLMNotInstalled
from assistant.registry import lookup
from assistant.settings import Settings

INSTALL_HINT = "pip install 'newsroom-assistant[llm]'"
BUILT_IN = {"openai": "assistant.answer.llms.openai", "ollama": "assistant.answer.llms.ollama"}


@dataclass(frozen=True)
class LLMSpec:
    name: str
    factory: Callable[[Settings], Any]
    requires: str  # the module the backend needs (its extra), checked at start
    where: Callable[[Settings], str]  # "Ollama at URL (model M)", for error messages
    install: str = INSTALL_HINT


_REGISTRY: dict[str, LLMSpec] = {}
_lock = threading.Lock()


def register_llm(
    name: str,
    factory: Callable[[Settings], Any],
    requires: str,
    where: Callable[[Settings], str],
    install: str = INSTALL_HINT,
) -> None:
    """Make ``name`` available as ``settings.llm.backend``."""
    with _lock:
        _REGISTRY[name] = LLMSpec(name, factory, requires, where, install)


def llm_spec(name: str) -> LLMSpec:
    return lookup(_REGISTRY, BUILT_IN, name, "llm backend", also=["none"])


def check_installed(name: str) -> None:
    """Raise ``LLMNotInstalled`` with the install command when the backend's extra is missing."""
    spec = llm_spec(name)
    try:
        found = importlib.util.find_spec(spec.requires) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise LLMNotInstalled(f"llm={name!r} needs the LLM backends: {spec.install}")


def make_llm(settings: Settings) -> Any:
    """The llama-index LLM for ``settings.llm.backend``."""
    spec = llm_spec(settings.llm.backend)
    try:
        return spec.factory(settings)
    except ImportError as exc:
        raise LLMNotInstalled(
            f"llm={settings.llm.backend!r} needs the LLM backends: {spec.install} ({exc})"
        ) from exc
