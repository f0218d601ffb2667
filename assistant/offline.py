"""Environment switches that keep every library off the network.

tiktoken downloads its encodings unless TIKTOKEN_CACHE_DIR points at the cache llama-index-core
ships (and only that cache: llama-index's own tokenizer reads the same variable). onnxruntime,
gradio and chromadb send telemetry; Hugging Face loaders retry the hub for about a minute.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_SWITCHES = {
    "ORT_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def tiktoken_cache_dir() -> Path | None:
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"


def configure_offline() -> None:
    for key, value in _SWITCHES.items():
        os.environ.setdefault(key, value)
    cache = tiktoken_cache_dir()
    if cache is not None and cache.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
