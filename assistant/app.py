"""Assistant: the one core object. Settings in, backends resolved here, the flow owned here.

Every front end (CLI, web, API, Slack) calls ``ingest``, ``ask`` and ``stream``; none holds
retrieval or answering logic of its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.answer.chat import ChatSession, Condensed, SessionStore, condense
from assistant.answer.extractive import NO_ANSWER, Draft, ExtractiveAnswerer
from assistant.answer.llm import LLMAnswerer, LLMUnavailable, check_backend
from assistant.answer.prompts import Prompts, load_prompts
from assistant.index.embedding import embedder_dim, make_embedder
from assistant.index.ingestion import IngestReport, ProgressFactory, ingest
from assistant.index.store import Store
from assistant.search.retrieval import Filters, Retriever
from assistant.settings import Settings
from assistant.types import Answer, Hit, Turn


class EmptyIndex(RuntimeError):
    """Asked a question before anything was ingested."""


class Assistant:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.sessions = SessionStore(
            None if self.settings.index.chroma_url else self.settings.index.index_dir / "sessions"
        )
        self._ingest_lock = threading.Lock()
        # An LLM backend is checked at start: a missing extra or a broken prompt template is
        # a startup error, not a surprise on the first question.
        self.prompts: Prompts | None = None
        if self.settings.llm.backend != "none":
            check_backend(self.settings)
            self.prompts = load_prompts(self.settings.llm.prompts_dir)

    # --- backends, resolved once and lazily (a command that never embeds never loads the model)
    @cached_property
    def embedder(self) -> BaseEmbedding:
        return make_embedder(
            self.settings.index.embedder,
            self.settings.index.embed_batch_size,
            self.settings.index.embed_threads,
        )

    @cached_property
    def store(self) -> Store:
        return Store(self.settings, embedder_dim(self.settings.index.embedder))

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, self.settings)

    @cached_property
    def _embed_texts(self) -> Callable[[list[str]], np.ndarray]:
        embed = getattr(self.embedder, "embed_texts", None)
        if embed is None:
            emb = self.embedder

            def embed(texts: list[str]) -> np.ndarray:
                return np.asarray(emb.get_text_embedding_batch(texts), dtype=np.float32)

        return embed

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(self.settings, self.idf, self._embed_texts)

    @cached_property
    def llm(self) -> LLMAnswerer | None:
        """The LLM answerer named by ``settings.llm.backend``; None for the extractive default."""
        if self.prompts is None:
            return None
        return LLMAnswerer(self.settings, self.prompts, self._embed_texts, self.idf)

    # --- ingestion ------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[Path] | None = None,
        prune: bool = False,
        rebuild: bool = False,
        progress: ProgressFactory | None = None,
    ) -> IngestReport:
        paths = list(paths) if paths else [self.settings.index.corpus_dir]
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise FileNotFoundError("no such file or folder: " + ", ".join(map(str, missing)))
        with self._ingest_lock:
            if rebuild and "store" not in self.__dict__:
                # Opening it would refuse the old manifest; ingest drops it under the lock.
                self.__dict__["store"] = Store(
                    self.settings, embedder_dim(self.settings.index.embedder), check=False
                )
            return ingest(
                paths, self.store, self.embedder, self.settings, prune, progress, rebuild=rebuild
            )

    # --- questions ------------------------------------------------------------------------
    def idf(self, term: str) -> float | None:
        """Inverse document frequency of a stemmed term over the chunks; None if unseen."""
        bm25 = self.retriever.bm25()
        if bm25 is None:
            return None
        model = bm25.bm25
        tid = model.vocab_dict.get(term)
        if tid is None:
            return None
        indptr = model.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid])
        n = int(model.scores["num_docs"])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def retrieve(
        self,
        query: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        as_of: str | None = None,
    ) -> list[Hit]:
        return self.retriever.retrieve(query, top_k=top_k, filters=filters, as_of=as_of)

    def ask(
        self,
        question: str,
        session: ChatSession | str | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
        *,
        as_of: str | None = None,
    ) -> Answer:
        """Answer ``question`` as if asked on ``as_of`` (ISO date; None = the newest document's
        date): relative time in the question ("this week") is read against it."""
        answer: Answer | None = None
        for item in self._flow(question, session, filters, top_k, as_of, stream=False):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        session: ChatSession | str | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
        *,
        as_of: str | None = None,
    ) -> Iterator[str | Answer]:
        """Text pieces of the answer as they are ready, then the finished Answer.

        With an LLM the pieces are the model's words as it writes them: a draft. The final
        Answer is the verified one (sentences may be dropped or marked, markers renumbered),
        so a front end replaces the streamed text with ``Answer.answer`` when it arrives.
        """
        yield from self._flow(question, session, filters, top_k, as_of, stream=True)

    def _flow(
        self,
        question: str,
        session: ChatSession | str | None,
        filters: Filters | None,
        top_k: int | None,
        as_of: str | None,
        stream: bool,
    ) -> Iterator[str | Answer]:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        if len(question) > self.settings.answer.max_question_chars:
            raise ValueError(
                f"the question is {len(question)} characters long; "
                f"the limit is {self.settings.answer.max_question_chars}"
            )
        chat = self.sessions.get(session) if isinstance(session, str) else session
        if self.store.count() == 0:
            raise EmptyIndex(
                f"The index at {self.store.location} is empty: run `assistant ingest` first."
            )
        notices: list[str] = []
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        cond = self._condense(chat.turns if chat else [], question, notices)
        if self.llm is not None and chat and chat.turns:
            timings["condense"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        hits = self.retrieve(cond.standalone, top_k=top_k, filters=filters, as_of=as_of)
        t1 = time.perf_counter()
        texts = self.store.doc_texts([h.chunk.doc_id for h in hits])
        draft: Draft | None = None
        if self.llm is not None:
            try:
                for piece in self.llm.answer(cond.standalone, hits, texts, stream):
                    if isinstance(piece, str):
                        yield piece
                    else:
                        draft = piece
            except LLMUnavailable as exc:
                if self.settings.llm.fallback == "error":
                    raise
                notices.append(f"{exc}; showing quoted passages instead (llm_fallback)")
        if draft is None:
            draft = self.answerer.draft(cond.focus, hits, texts, context=cond.context)
            if stream:
                if notices:
                    yield f"\n\n({notices[-1]})\n\n"
                for paragraph in draft.answer.split("\n\n"):
                    yield paragraph + "\n\n"
        t2 = time.perf_counter()
        timings.update({"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000})
        answer = Answer(
            question=question,
            standalone_question=cond.standalone,
            answered=draft.answered,
            answer=draft.answer,
            citations=draft.citations,
            retrieved=hits,
            timings_ms=timings,
            notices=notices + draft.notices,
            verification=draft.verification,
        )
        if chat is not None:
            chat.add(
                Turn(question, cond.standalone, answer.answer, answer.answered, answer.citations)
            )
            self.sessions.save(chat)
        yield answer

    def warm_up(self) -> None:
        """Open the index and load the models before the first question: a server calls this
        at start-up so that no request pays for it, and concurrent first requests do not each
        build the backends."""
        if self.store.count() == 0:
            return
        self.retriever.bm25()
        _ = self.answerer
        self.embedder.get_query_embedding("warm up")

    def _condense(self, history: list[Turn], question: str, notices: list[str]) -> Condensed:
        """The question made standalone: by the LLM when there is one and a conversation,
        else (or when the LLM fails and llm_fallback allows) by the offline heuristic."""
        if self.llm is None or not history:
            return condense(history, question)
        try:
            standalone = self.llm.condense(history, question)
        except LLMUnavailable as exc:
            if self.settings.llm.fallback == "error":
                raise
            notices.append(f"{exc}; the follow-up was resolved without it")
            return condense(history, question)
        return Condensed(standalone, standalone, "")

    # --- inspection -----------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        recs = self.store.doc_records()
        docs = [
            {
                "doc_id": doc_id,
                "source": m.get("source", ""),
                "title": m.get("title", ""),
                "url": m.get("url") or None,
                "published": m.get("published") or None,
                "chunks": int(m.get("chunks", 0)),
            }
            for doc_id, m in recs.items()
        ]
        return sorted(docs, key=lambda d: (d["published"] or "", d["source"]), reverse=True)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "index": self.store.location,
            "documents": self.store.doc_count(),
            "chunks": self.store.count(),
            "embedder": self.settings.index.embedder,
            "llm": self.settings.llm.backend,
        }


__all__ = ["NO_ANSWER", "Assistant", "EmptyIndex", "LLMUnavailable"]
