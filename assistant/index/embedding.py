"""Embedders by name: one registry, one module per backend, loaded only when chosen.

A backend registers itself when its module is imported::

    register_embedder("name", dim, factory, "what it is")

where ``factory(settings)`` returns a llama-index ``BaseEmbedding``. Built-in backends live in
``assistant/index/embedders/`` and are imported on first use of their name, so choosing one
never loads another's model or dependencies. ``SpanVectors`` caches the vectors of document
spans for answering and verification.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.registry import lookup
from assistant.settings import Settings

# name -> module that registers it when imported
BUILT_IN = {
    "minilm": "assistant.index.embedders.minilm",
    "minilm-q8": "assistant.index.embedders.minilm_q8",
}


@dataclass(frozen=True)
class EmbedderSpec:
    name: str
    dim: int
    factory: Callable[[Settings], BaseEmbedding]
    description: str = ""


_REGISTRY: dict[str, EmbedderSpec] = {}
_lock = threading.Lock()


def register_embedder(
    name: str, dim: int, factory: Callable[[Settings], BaseEmbedding], description: str = ""
) -> None:
    """Make ``name`` available as ``settings.index.embedder``."""
    with _lock:
        _REGISTRY[name] = EmbedderSpec(name, dim, factory, description)


def embedder_spec(name: str) -> EmbedderSpec:
    """The registered backend ``name``; unknown names list the known ones."""
    return lookup(_REGISTRY, BUILT_IN, name, "embedder")


def make_embedder(settings: Settings) -> BaseEmbedding:
    """The embedder named by ``settings.index.embedder``."""
    return embedder_spec(settings.index.embedder).factory(settings)


def embedder_dim(name: str) -> int:
    return embedder_spec(name).dim


def embed_function(embedder: BaseEmbedding) -> Callable[[list[str]], np.ndarray]:
    """Texts -> (n, dim) float32 vectors with any llama-index embedder; ours batch natively."""
    fast = getattr(embedder, "embed_texts", None)
    if fast is not None:
        return fast

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(embedder.get_text_embedding_batch(texts), dtype=np.float32)

    return embed


SpanKey = tuple[str, int, int]  # (doc_id, start, end) of a span of a stored document


class SpanVectors:
    """Embeddings of document spans, kept between questions (first in, first out; ~1.5 KB
    each), shared safely by the server's threads."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int = 20000) -> None:
        self._embed = embed
        self._size = size
        self._vectors: OrderedDict[SpanKey, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spans: dict[SpanKey, str]) -> dict[SpanKey, np.ndarray]:
        """A vector for every span given, embedding only those not cached."""
        with self._lock:
            found = {k: self._vectors[k] for k in spans if k in self._vectors}
        missing = [k for k in spans if k not in found]
        if missing:
            fresh = np.asarray(self._embed([spans[k] for k in missing]), dtype=np.float32)
            with self._lock:
                for k, v in zip(missing, fresh, strict=True):
                    self._vectors[k] = v
                    found[k] = v
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        # From the local copy: another thread may evict a key from the full cache meanwhile.
        return found
