"""Backends by name: a new embedder or LLM is one registered module, chosen in the settings,
and an index remembers which embedder built it. The test fakes are registered this way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.answer.llms import llm_spec, make_llm
from assistant.app import Assistant
from assistant.errors import ConfigError
from assistant.index.embedding import embedder_dim, make_embedder
from assistant.index.store import IndexMismatch
from assistant.settings import Settings
from tests.support.fake_embedder import HashedEmbedding
from tests.support.samples import NATO_QUESTION, make_settings
from tests.support.scripted_llm import Script, ScriptedLLM


def test_unknown_embedder_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="minilm"):
        make_embedder(Settings(embedder="nope"))


def test_a_registered_embedder_is_chosen_by_name() -> None:
    embedder = make_embedder(Settings(embedder="hashed"))
    assert isinstance(embedder, HashedEmbedding) and embedder_dim("hashed") == 384
    texts = ["NATO pledged support to Ukraine", "Ukraine got NATO support", "Squid Game", ""]
    v = embedder.embed_texts(texts)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)  # even with no words
    assert v[0] @ v[1] > 0.5 > abs(float(v[0] @ v[2]))  # shared words, then none


def test_the_index_remembers_its_embedder(tmp_path: Path, corpus_dir: Path) -> None:
    a = Assistant(make_settings(tmp_path, embedder="hashed"))
    assert a.ingest().docs_added == 2
    assert a.health()["embedder"] == "hashed"
    other = Assistant(make_settings(tmp_path, embedder="minilm"))
    with pytest.raises(IndexMismatch, match="embedder: index has 'hashed', settings say 'minilm'"):
        other.ask(NATO_QUESTION)


def test_unknown_llm_backend_names_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match=r"none, ollama, openai, scripted"):
        llm_spec("nope")


def test_a_registered_llm_is_built_from_the_settings(script: Script) -> None:
    llm = make_llm(Settings(llm="scripted", llm_model="m-1", llm_context_tokens=4096))
    assert isinstance(llm, ScriptedLLM)
    assert (llm.metadata.model_name, llm.metadata.context_window) == ("m-1", 4096)
    script.responder = lambda seen: f"you said {seen.prompt}"
    assert llm.complete("hello").text == "you said hello"
    assert (
        llm_spec("scripted").where(Settings(llm="scripted")) == "scripted LLM (model gpt-4o-mini)"
    )
