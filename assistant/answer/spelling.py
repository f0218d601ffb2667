"""A misspelt word in a question, matched to the index's vocabulary: "Ukrane" -> "Ukraine".

A word the index has never seen (its stem has no document frequency) is compared with every
spelling one edit away (a letter added, dropped, changed, or two swapped); the variant whose
stem the most chunks contain wins. Words of fewer than ``MIN_LETTERS`` letters are left alone
(too many short words are one edit from each other), and so are numbers, words the index
knows and English words (whole pieces of the reader's 30,522-piece vocabulary: "hours" is
not a misspelt "fours" because a small index lacks it). The keyword index stores hashed
terms, not words, so spellings are generated here and looked up there: a few hundred
dictionary lookups per unknown word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from assistant.text import STOPWORDS, stem

MIN_LETTERS = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")


@dataclass(frozen=True)
class Correction:
    text: str  # the question with the corrections made
    changes: list[tuple[str, str]]  # (as written, as corrected)

    @property
    def notice(self) -> str:
        words = ", ".join(f"{a} → {b}" for a, b in self.changes)
        return f"did you mean “{self.text}”? (read as {words})"


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole alphabetic words of the vendored MiniLM vocabulary."""
    import json

    from assistant.index.embedders.minilm import VENDOR_DIR

    vocab = json.loads((VENDOR_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    return frozenset(w for w in vocab["model"]["vocab"] if w.isalpha() and w.isascii())


def _edits(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changes = {a + c + b[1:] for a, b in splits if b for c in _LETTERS if c != b[0]}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | changes | inserts) - {word}


def _cased(like: str, word: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def correct(question: str, idf: Callable[[str], float | None]) -> Correction | None:
    """The question with its unknown words respelt as the index spells them; None when every
    word is known or no respelling is."""
    changes: list[tuple[str, str]] = []
    out: list[str] = []
    pos = 0
    for m in _WORD.finditer(question):
        word = m.group()
        low = word.lower()
        out.append(question[pos : m.start()])
        pos = m.end()
        if len(low) < MIN_LETTERS or low in STOPWORDS or not low.isalpha():
            out.append(word)
            continue
        if low in english_words() or idf(stem(low)) is not None:
            out.append(word)
            continue
        best: tuple[float, str] | None = None
        for variant in _edits(low):
            if variant in STOPWORDS:
                continue
            w = idf(stem(variant))
            if w is not None and (best is None or w < best[0]):
                best = (w, variant)
        if best is None:
            out.append(word)
            continue
        fixed = _cased(word, best[1])
        changes.append((word, fixed))
        out.append(fixed)
    out.append(question[pos:])
    return Correction("".join(out), changes) if changes else None
