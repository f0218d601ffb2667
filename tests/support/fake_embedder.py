"""``hashed``: an in-process stand-in for the MiniLM embedder, for fast tests.

Each text becomes a bag of its stemmed words (stop words dropped), hashed into 384 signed
buckets and L2-normalised: deterministic, no model to load, and texts that share words are
close, so dense retrieval still ranks the sample corpus sensibly. It knows no synonyms, so a
test that needs a paraphrase recognised ("the alliance promised help" ~ "NATO pledged
support") needs the real model and belongs in tests/integration.

It is registered through the real registry, as a third-party backend would be::

    import tests.support.fake_embedder  # registers "hashed"
    Settings(embedder="hashed")
"""

from __future__ import annotations

import re
import threading
import zlib

import numpy as np
import Stemmer
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.index.embedding import register_embedder
from assistant.settings import Settings

NAME = "hashed"
DIM = 384  # MiniLM's, so an index's shape is the same whichever embedder built it
_WORD = re.compile(r"\w+")
_STOP_WORDS = (
    "a about after all also an and are as at be been but by did do does for from had has have "
    "he her his how i if in into is it its more not of on or our over said says she so than "
    "that the their them there they this to was we were what when where which who will with "
    "would you"
)
_STOP = frozenset(_STOP_WORDS.split())


class HashedEmbedding(BaseEmbedding):
    """Hashed bag of stemmed words, as a llama-index embedder with MiniLM's ``embed_texts``."""

    _stemmer: Stemmer.Stemmer = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **kw: object) -> None:
        super().__init__(model_name=NAME, **kw)
        self._stemmer = Stemmer.Stemmer("english")

    @classmethod
    def class_name(cls) -> str:
        return "HashedEmbedding"

    def vector(self, text: str) -> np.ndarray:
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
        with self._lock:  # a Stemmer object is not safe to share between threads
            stems = self._stemmer.stemWords(words)
        v = np.zeros(DIM, dtype=np.float32)
        for stem in stems:
            h = zlib.crc32(stem.encode("utf-8"))
            v[h % DIM] += 1.0 if h & (1 << 31) else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:  # no words: a fixed unit vector, as cosine distance needs a length
            v[0] = 1.0
            return v
        return v / norm

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(n, 384) float32 unit vectors, in the order given."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts])

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.vector(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.vector(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_texts(texts).tolist()


def _make(settings: Settings) -> HashedEmbedding:
    return HashedEmbedding(embed_batch_size=settings.index.embed_batch_size)


register_embedder(NAME, DIM, _make, "hashed bag of stemmed words (tests only)")
