"""`assistant ingest --workers N`: embedding processes (with the real model: a worker process
cannot see an embedder registered only in the test's process) build the same index as one."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.settings import Settings
from tests.support.corpusgen import write_corpus
from tests.support.samples import NATO_QUESTION


@pytest.mark.slow
def test_two_embedding_processes_build_the_same_index(tmp_path: Path) -> None:
    import numpy as np

    write_corpus(tmp_path / "corpus", 16, paragraphs=4)
    one = Assistant(Settings(index_dir=tmp_path / "one", corpus_dir=tmp_path / "corpus"))
    two = Assistant(Settings(index_dir=tmp_path / "two", corpus_dir=tmp_path / "corpus"))
    assert one.ingest().docs_added == two.ingest(workers=2).docs_added == 16
    a = one.store.chunks.get(include=["documents", "embeddings"])
    b = two.store.chunks.get(include=["documents", "embeddings"])
    assert sorted(zip(a["ids"], a["documents"], strict=True)) == sorted(
        zip(b["ids"], b["documents"], strict=True)
    )
    vectors = dict(zip(b["ids"], np.asarray(b["embeddings"]), strict=True))
    for cid, vec in zip(a["ids"], np.asarray(a["embeddings"]), strict=True):
        assert np.allclose(vec, vectors[cid], atol=1e-5)
    assert one.ask(NATO_QUESTION).answer == two.ask(NATO_QUESTION).answer
