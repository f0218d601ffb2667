"""BM25 as both keyword backends compute it: the words counted and the score formula.

The words are bm25s's (what llama-index's ``BM25Retriever`` indexed before the keyword index
became incremental): lower-cased ``\\w\\w+`` tokens, bm25s's English stop words removed, then
the Snowball English stemmer (PyStemmer). A chunk is indexed as llama-index's embed text of
its node, ``"title: <title>\\n\\n<text>"``. The score is bm25s's default "lucene" variant:

    score(d, q) = sum over query tokens t (repeats count) of
                  idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * len(d) / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

computed at query time from N, the total length and df kept current by the index, so adding
or removing a document never re-scores the others (bm25s bakes idf and avgdl into its matrix
at build time, which is why it had to be rebuilt after every change).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from functools import lru_cache
from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode

K1 = 1.5
B = 0.75
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# PostgreSQL refuses lexemes over 2047 bytes and keeps at most 256 positions per lexeme.
MAX_TERM_BYTES = 2000
MAX_TF = 256


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _splitter() -> tuple[Any, frozenset[str]]:
    import re

    from bm25s.stopwords import STOPWORDS_EN

    return re.compile(TOKEN_PATTERN).findall, frozenset(STOPWORDS_EN)


def analyze(text: str) -> list[str]:
    """The stemmed terms of ``text`` in order (repeats kept): what BM25 counts."""
    split, stop = _splitter()
    words = [w for w in split(text.lower()) if w not in stop]
    if not words:
        return []
    stems: list[str] = _stemmer().stemWords(words)
    return [s for s in stems if len(s.encode("utf-8")) <= MAX_TERM_BYTES]


def indexed_text(node: BaseNode) -> str:
    """What is indexed of a chunk: its title and text, as bm25s's retriever indexed it."""
    return node.get_content(metadata_mode=MetadataMode.EMBED)


def term_counts(node: BaseNode) -> tuple[Counter[str], int]:
    """A chunk's term frequencies and its length in terms."""
    terms = analyze(indexed_text(node))
    return Counter(terms), len(terms)


def idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def tf_part(tf: Any, length: Any, avgdl: float) -> Any:
    """The term-frequency factor (numbers or numpy arrays); always below 1."""
    return tf / (tf + K1 * (1 - B + B * length / avgdl))


def key64(text: str) -> int:
    """A stable 64-bit key of a term, document id or source (no Python dict needed to find
    it in a memory-mapped sorted array)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
