"""Readers by name: does this unit answer this question, and which words of it are the answer?

A reader takes a question and candidate units (a quotable sentence with its document's title
and the sentence before it) and gives each a probability that it answers the question, plus
the answer phrase inside it when it has a span head. The answerer refuses when no unit reaches
the reader's threshold (chosen on validation weeks when the model was trained, and recorded in
its card).

A backend registers itself when its module is imported, like the embedders::

    register_reader("name", factory, "what it is")

where ``factory(settings)`` returns a ``Reader``. ``encode`` is the one place that turns a
(question, unit) pair into word pieces: the training script (assistant/training) and the
onnxruntime backend both call it, so what the model saw in training is what it reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from assistant.registry import lookup
from assistant.settings import Settings

BUILT_IN = {"minilm-reader": "assistant.answer.readers.minilm_reader"}

# Word-piece budgets of one pair: [CLS] question [SEP] unit [SEP] title ; before [SEP]. The unit
# comes right after the question so that truncation cuts the context, never the answer's start.
MAX_TOKENS = 80
QUESTION_TOKENS = 28
UNIT_TOKENS = 52
CLS, SEP = 101, 102  # the uncased MiniLM vocabulary's


@dataclass(frozen=True)
class Unit:
    """What the reader sees of one candidate besides the question."""

    text: str
    title: str = ""
    before: str = ""  # the citable unit just before it in its document ("" at the start)


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one unit: ``prob`` that it answers; ``span`` the answer's
    character offsets inside the unit's text (None without a span head, or when unsure)."""

    prob: float
    span: tuple[int, int] | None = None


class Reader(Protocol):
    name: str
    threshold: float  # a unit answers when its prob reaches this

    def read(self, question: str, units: Sequence[Unit]) -> list[Reading]:
        """One Reading per unit, in the order given."""
        ...


@dataclass
class Encoded:
    """A batch of pairs as model input, right padded, with where each unit's pieces are."""

    ids: np.ndarray  # (B, S) int32
    mask: np.ndarray  # (B, S) int32
    unit_pieces: list[tuple[int, int]]  # per row: [first, last) piece index of the unit
    offsets: list[list[tuple[int, int]]]  # per row: each unit piece's (start, end) in its text


def load_tokenizer() -> Any:
    """The MiniLM word-piece tokenizer vendored for the embedder (uncased, 30,522 pieces),
    with its file's padding and 128-piece truncation turned off: ``encode`` cuts each part."""
    from tokenizers import Tokenizer

    from assistant.index.embedders.minilm import VENDOR_DIR

    tok = Tokenizer.from_file(str(VENDOR_DIR / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def _pieces(tokenizer: Any, texts: list[str]) -> list[Any]:
    return list(tokenizer.encode_batch(texts, add_special_tokens=False))


def encode(
    tokenizer: Any, question: str, units: Sequence[Unit], max_tokens: int = MAX_TOKENS
) -> Encoded:
    """Word pieces of each (question, unit) pair, padded to the batch's longest."""
    q = _pieces(tokenizer, [question])[0].ids[:QUESTION_TOKENS]
    bodies = _pieces(tokenizer, [u.text for u in units])
    contexts = _pieces(
        tokenizer, [f"{u.title} ; {u.before}" if u.before else u.title for u in units]
    )
    rows: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    offsets: list[list[tuple[int, int]]] = []
    for body, ctx in zip(bodies, contexts, strict=True):
        b = body.ids[: max(1, min(UNIT_TOKENS, max_tokens - len(q) - 4))]
        head = [CLS, *q, SEP]
        room = max(0, max_tokens - len(head) - len(b) - 2)
        row = [*head, *b, SEP, *ctx.ids[:room], SEP]
        rows.append(row)
        spans.append((len(head), len(head) + len(b)))
        offsets.append([tuple(o) for o in body.offsets[: len(b)]])
    width = max((len(r) for r in rows), default=0)
    ids = np.zeros((len(rows), width), dtype=np.int32)
    mask = np.zeros((len(rows), width), dtype=np.int32)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return Encoded(ids, mask, spans, offsets)


MAX_SPAN_PIECES = 24


def best_span(
    start: np.ndarray, end: np.ndarray, pieces: tuple[int, int], offsets: list[tuple[int, int]]
) -> tuple[tuple[int, int], float] | None:
    """The highest-scoring answer phrase inside the unit's pieces (start <= end, at most
    ``MAX_SPAN_PIECES`` long) as character offsets in the unit's text, with its score."""
    a, b = pieces
    if b <= a:
        return None
    s, e = start[a:b], end[a:b]
    n = b - a
    scores = s[:, None] + e[None, :]
    valid = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(
        np.ones((n, n), dtype=bool), MAX_SPAN_PIECES
    )
    scores = np.where(valid, scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return (offsets[i][0], offsets[j][1]), float(scores[i, j])


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    factory: Callable[[Settings], Reader]
    description: str = ""


_REGISTRY: dict[str, ReaderSpec] = {}
_lock = threading.Lock()


def register_reader(
    name: str, factory: Callable[[Settings], Reader], description: str = ""
) -> None:
    """Make ``name`` available as ``settings.answer.reader``."""
    with _lock:
        _REGISTRY[name] = ReaderSpec(name, factory, description)


def reader_spec(name: str) -> ReaderSpec:
    return lookup(_REGISTRY, BUILT_IN, name, "reader")


def make_reader(settings: Settings) -> Reader:
    """The reader named by ``settings.answer.reader``."""
    return reader_spec(settings.answer.reader).factory(settings)
