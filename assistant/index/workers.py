"""Embedding for ingestion: in this process, or in N worker processes.

One process embeds with ``embed_threads`` onnxruntime sessions side by side (the GIL is
released while they run). ``assistant ingest --workers N`` starts N processes instead, each
with its own copy of the model and a share of the cores (``embed_threads`` per process, or
cores / N), so the tokenizer and the Python around the model run in parallel too. Either way
batches are handed out in order and written in order by the ingesting process, which is the
only one that writes.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.index.embedding import embed_function, embedder_spec
from assistant.settings import Settings

_worker_embed: Any = None  # the embedding function of a worker process


def _start_worker(index_settings: dict[str, Any]) -> None:
    import assistant  # noqa: F401  (offline switches before any library loads)

    global _worker_embed
    settings = Settings(index=index_settings)
    _worker_embed = embed_function(embedder_spec(settings.index.embedder).factory(settings))


def _embed_in_worker(texts: list[str]) -> np.ndarray:
    return np.asarray(_worker_embed(texts), dtype=np.float32)


class Embedding:
    """``submit(texts)`` -> a future of their vectors; ``depth`` batches may be in flight."""

    def __init__(self, embedder: BaseEmbedding, settings: Settings, workers: int) -> None:
        self.workers = max(1, workers)
        self._embedder = embedder
        self._settings = settings
        self._pool: Executor | None = None
        self.depth = self.workers + 1  # one more than can run: the next is ready at once

    def __enter__(self) -> Embedding:
        if self.workers == 1:
            embed = embed_function(self._embedder)
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ingest-embed")
            self._run = embed
        else:
            import multiprocessing

            index = self._settings.index.model_dump()
            if not index["embed_threads"]:
                index["embed_threads"] = max(1, (os.cpu_count() or 1) // self.workers)
            self._pool = ProcessPoolExecutor(
                self.workers,
                # spawn: a forked child would inherit this process's threads and connections
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(index,),
            )
            self._run = _embed_in_worker
        return self

    def submit(self, texts: list[str]) -> Future[np.ndarray]:
        assert self._pool is not None
        return self._pool.submit(self._run, texts)

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
