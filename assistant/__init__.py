"""newsroom-assistant: cited answers over news documents, offline by default.

The public Python API::

    from assistant import Assistant, Settings

``Assistant`` is the one core object (ingest, ask, stream, documents, upload); its answers
are the records of ``assistant.types`` and its failures the ``AssistantError`` hierarchy of
``assistant.errors``.
"""

from typing import TYPE_CHECKING, Any

from assistant.offline import configure_offline

__version__ = "0.1.0"

# Before any third-party import: these libraries read their switches at import time.
configure_offline()

if TYPE_CHECKING:
    from assistant.app import Assistant
    from assistant.errors import AssistantError
    from assistant.settings import Settings
    from assistant.types import Answer, Citation, Filters, Hit, Turn

_PUBLIC = {
    "Assistant": "assistant.app",
    "Settings": "assistant.settings",
    "AssistantError": "assistant.errors",
    "Answer": "assistant.types",
    "Citation": "assistant.types",
    "Filters": "assistant.types",
    "Hit": "assistant.types",
    "Turn": "assistant.types",
}


def __getattr__(name: str) -> Any:
    # Lazy: `import assistant` (done first by every command for the offline switches) stays
    # light; the engine loads when the API is used.
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Citation",
    "Filters",
    "Hit",
    "Settings",
    "Turn",
]
