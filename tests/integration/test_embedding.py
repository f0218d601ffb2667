"""The offline embedders (default and previous): right shape, normalised, meaningful, and
reading past 128 tokens."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.index.embedders.minilm import MINILM_DIM
from assistant.index.embedding import make_embedder
from assistant.settings import Settings


@pytest.fixture(scope="module", params=["minilm-q8", "minilm"])
def embedder(request):  # type: ignore[no-untyped-def]
    return make_embedder(Settings(embedder=request.param))


def test_vectors_are_normalised_and_semantic(embedder) -> None:  # type: ignore[no-untyped-def]
    v = embedder.embed_texts(
        ["NATO pledges support to Ukraine", "The alliance promised help for Kyiv", "Squid Game"]
    )
    assert v.shape == (3, MINILM_DIM)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_order_is_kept_across_length_sorted_batches(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = ["short", "a much longer sentence about elections and votes " * 5, "mid length text"]
    together = embedder.embed_texts(texts)
    alone = np.stack([embedder.embed_texts([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_reads_past_128_word_pieces(embedder) -> None:  # type: ignore[no-untyped-def]
    head = "word " * 150
    a = embedder.embed_texts([head + "volcano eruption lava ash evacuation"])[0]
    b = embedder.embed_texts([head + "football championship final goal trophy"])[0]
    assert not np.allclose(a, b, atol=1e-3), "text after token 128 must change the vector"


def test_llama_index_interface(embedder) -> None:  # type: ignore[no-untyped-def]
    q = embedder.get_query_embedding("ukraine")
    batch = embedder.get_text_embedding_batch(["ukraine", "war"])
    assert len(q) == MINILM_DIM and len(batch) == 2
    assert np.allclose(q, batch[0], atol=1e-5)
