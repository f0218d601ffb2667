"""``minilm-reader``, the default reader: a MiniLM cross-encoder fine-tuned on news quizzes,
SQuAD 2.0 and SelQA (assistant/training), run as an int8 onnxruntime graph.

The graph ships in this folder (``minilm-reader.onnx``) with its card (``minilm-reader.json``:
base weights and licence, data, split, seeds, metrics, the training command, sha256 and the
threshold chosen on validation weeks). No torch and no download at run time.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer.reader import (
    Reading,
    Unit,
    best_span,
    encode,
    load_tokenizer,
    register_reader,
)
from assistant.errors import ConfigError
from assistant.settings import Settings

MODEL_FILE = Path(__file__).with_name("minilm-reader.onnx")
BATCH = 8  # pairs per onnxruntime call: small batches pad less (units differ in length)
SPAN_MIN = 0.0  # a span whose start+end score is below this is no clear phrase: not marked


def load_card(model: Path) -> dict[str, Any]:
    card = model.with_suffix(".json")
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
        float(data["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"reader card {card} is missing or unusable: {exc}") from None
    return dict(data)


class OnnxReader:
    """Scores a question's units in length-sorted batches, ``threads`` batches at a time (one
    onnxruntime thread each: on a shared machine intra-op threads wait for each other)."""

    def __init__(
        self,
        model: Path = MODEL_FILE,
        threads: int = 0,
        threshold: float | None = None,
        name: str = "minilm-reader",
    ) -> None:
        if not model.is_file():
            raise ConfigError(
                f"reader model {model} not found (retrain it: python -m assistant.training.train)"
            )
        self.name = name
        self.path = model
        self.card = load_card(model)
        self.threshold = float(self.card["threshold"] if threshold is None else threshold)
        self.threads = threads or (os.cpu_count() or 1)
        self._lock = threading.Lock()

    @cached_property
    def _session(self) -> Any:
        from assistant.index.embedders.minilm_graph import session

        return session(str(self.path))

    @cached_property
    def _tokenizer(self) -> Any:
        return load_tokenizer()

    @cached_property
    def _pool(self) -> ThreadPoolExecutor | None:
        return ThreadPoolExecutor(self.threads, "reader") if self.threads > 1 else None

    def warm_up(self) -> None:
        self.read("warm up", [Unit("The reader is ready.")])

    def read(self, question: str, units: Sequence[Unit]) -> list[Reading]:
        if not units:
            return []
        with self._lock:  # first use: one thread builds the session and the tokenizer
            session, tokenizer = self._session, self._tokenizer
        enc = encode(tokenizer, question, units)
        lengths = enc.mask.sum(axis=1)
        order = sorted(range(len(units)), key=lambda i: int(lengths[i]))
        batches = [order[lo : lo + BATCH] for lo in range(0, len(order), BATCH)]
        logits = np.zeros(len(units), np.float32)
        spans: list[tuple[tuple[int, int], float] | None] = [None] * len(units)

        def run(idx: list[int]) -> None:
            width = int(lengths[idx].max())
            out = session.run(
                None,
                {"input_ids": enc.ids[idx, :width], "attention_mask": enc.mask[idx, :width]},
            )
            logits[idx] = np.asarray(out[0]).reshape(-1)
            for row, i in enumerate(idx):
                spans[i] = best_span(out[1][row], out[2][row], enc.unit_pieces[i], enc.offsets[i])

        if self._pool is None or len(batches) == 1:
            for b in batches:
                run(b)
        else:
            list(self._pool.map(run, batches))  # list() re-raises a worker's exception
        probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
        return [
            Reading(float(p), s[0] if s is not None and s[1] >= SPAN_MIN else None)
            for p, s in zip(probs, spans, strict=True)
        ]


def _make(settings: Settings) -> OnnxReader:
    a = settings.answer
    return OnnxReader(a.reader_model or MODEL_FILE, a.reader_threads, a.reader_threshold)


register_reader(
    "minilm-reader",
    _make,
    "MiniLM cross-encoder fine-tuned on news quizzes, SQuAD 2.0 and SelQA; int8 onnxruntime",
)
