"""The default embedder, ``minilm-q8``: all-MiniLM-L6-v2 as a fused int8 onnxruntime graph.

The graph (``assistant/_vendor/minilm/all-MiniLM-L6-v2-q8.onnx``, 23 MB) is built by
``minilm_graph`` from the model's safetensors; how and why is said there. Its vectors differ
from the ``minilm`` file's, hence its own name: an index records the embedder that built it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.index.embedders.minilm import MINILM_DIM, VENDOR_DIR, OnnxSentenceEmbedding
from assistant.index.embedding import register_embedder
from assistant.settings import Settings

GRAPH_FILE = VENDOR_DIR / "all-MiniLM-L6-v2-q8.onnx"


class MiniLMQ8Embedding(OnnxSentenceEmbedding):
    """Pooling and normalisation happen inside the graph: one ``run`` gives the vectors."""

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMQ8Embedding"

    def _open(self) -> Any:
        from assistant.index.embedders.minilm_graph import session

        return session(str(GRAPH_FILE))

    def _vectors(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.asarray(
            self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0], np.float32
        )


def _make(settings: Settings) -> MiniLMQ8Embedding:
    s = settings.index
    return MiniLMQ8Embedding(
        model_name="minilm-q8", embed_batch_size=s.embed_batch_size, threads=s.embed_threads
    )


register_embedder(
    "minilm-q8",
    MINILM_DIM,
    _make,
    "all-MiniLM-L6-v2, fused int8 graph on onnxruntime (offline; the default)",
)
