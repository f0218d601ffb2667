"""Assistant: the one core object. Settings in, backends resolved here, the flow owned here.

Every front end (CLI, web, API, Slack) calls the same few methods (``ask``, ``stream``,
``ingest``, ``upload``, ``documents``, ``health``) and gets typed records back (assistant.types)
or an ``AssistantError`` (assistant.errors). Input is validated here, once, for all of them;
conversations are kept here; an LLM's unverified draft leaves only when a caller asks for it.

    from assistant import Assistant, Settings

    a = Assistant(Settings(index_dir="my-index"))
    a.ingest(["articles/"])
    answer = a.ask("What support did NATO pledge to Ukraine?")
    print(answer.answer)
    for c in answer.citations:
        print(c.n, c.title, c.published, c.url or c.source, c.quote)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant import validate
from assistant.answer.chat import (
    ChatSession,
    Condensed,
    Sessions,
    condense,
    session_from_history,
)
from assistant.answer.extractive import NO_ANSWER, Draft, ExtractiveAnswerer
from assistant.answer.llm import LLMAnswerer, check_backend
from assistant.answer.prompts import Prompts, load_prompts
from assistant.answer.reader import Reader, make_reader
from assistant.answer.spelling import correct
from assistant.app_live import LiveNews
from assistant.backends import backend
from assistant.errors import AssistantError, EmptyIndex, IndexUnavailable, LLMUnavailable, NotFound
from assistant.index import uploads
from assistant.index.embedding import embed_function, embedder_dim, make_embedder
from assistant.index.ingestion import ProgressFactory, ingest, ingest_sources
from assistant.index.store import Store
from assistant.language import foreign_language
from assistant.metrics import Metrics
from assistant.search.recency import parse_iso
from assistant.search.retrieval import Retriever
from assistant.settings import Settings
from assistant.text import neutralise_markers
from assistant.types import (
    Answer,
    Filters,
    Hit,
    IngestReport,
    Source,
    Turn,
    UploadResult,
    http_url,
)

Progress = ProgressFactory  # progress(total, description) -> a tqdm-like bar (update, close)


class Assistant(LiveNews):
    """Ingests documents and answers questions about them with verifiable citations."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.sessions: Sessions = backend(self.settings).sessions(self.settings)
        self._ingest_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._store: Store | None = None
        # Questions, ingestion and (recorded by the server) requests, for /metrics.
        self.metrics = Metrics()
        self.metrics.watch(
            "assistant_index_documents", "Documents in the index.", lambda: self.store.doc_count()
        )
        self.metrics.watch(
            "assistant_index_chunks", "Chunks in the index.", lambda: self.store.count()
        )
        # An LLM backend is checked at start: a missing extra or a broken prompt template is
        # a startup error, not a surprise on the first question.
        self.prompts: Prompts | None = None
        if self.settings.llm.backend != "none":
            check_backend(self.settings)
            self.prompts = load_prompts(self.settings.llm.prompts_dir)

    # --- backends, resolved once and lazily (a command that never embeds never loads the model)
    @cached_property
    def embedder(self) -> BaseEmbedding:
        return make_embedder(self.settings)

    @property
    def store(self) -> Store:
        """The index, opened on first use (its manifest is checked against the settings)."""
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    self._store = Store(self.settings, embedder_dim(self.settings.index.embedder))
        return self._store

    def with_settings(self, **overrides: Any) -> Assistant:
        """Another Assistant over the same index and embedder with some settings changed (by
        flat or grouped name): answering or retrieval variants without reopening anything."""
        other = Assistant(self.settings.replace(**overrides))
        other._store = self.store
        other.__dict__["embedder"] = self.embedder
        return other

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, self.settings)

    @cached_property
    def _embed_texts(self) -> Callable[[list[str]], np.ndarray]:
        return embed_function(self.embedder)

    @cached_property
    def reader(self) -> Reader:
        """The reader named by ``settings.answer.reader``: scores whether a unit answers."""
        return make_reader(self.settings)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(self.settings, self.retriever.idf, self.reader)

    @cached_property
    def llm(self) -> LLMAnswerer | None:
        """The LLM answerer named by ``settings.llm.backend``; None for the extractive default."""
        if self.prompts is None:
            return None
        return LLMAnswerer(self.settings, self.prompts, self._embed_texts, self.retriever.idf)

    # --- documents in ---------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[Path | str] | None = None,
        prune: bool = False,
        rebuild: bool = False,
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> IngestReport:
        """Bring the index in line with ``paths`` (default: the corpus folder): new and changed
        files are read, cleaned, chunked and embedded; unchanged ones are skipped; with
        ``prune`` documents whose files are gone are removed; ``rebuild`` starts afresh.
        ``workers`` embedding processes (default: the ``ingest_workers`` setting)."""
        given = [Path(p) for p in paths] if paths else [self.settings.index.corpus_dir]
        missing = [p for p in given if not p.exists()]
        if missing:
            raise FileNotFoundError("no such file or folder: " + ", ".join(map(str, missing)))
        with self._ingest_lock:
            if rebuild and self._store is None:
                # Opened without the manifest check: the old index is about to be dropped.
                self._store = Store(
                    self.settings, embedder_dim(self.settings.index.embedder), check=False
                )
            try:
                report = ingest(
                    given,
                    self.store,
                    self.embedder,
                    self.settings,
                    prune,
                    progress,
                    rebuild=rebuild,
                    workers=workers,
                )
            except BaseException:
                self.metrics.observe_ingest(None)
                raise
            self.metrics.observe_ingest(report)
            return report

    def upload(
        self,
        files: Iterable[tuple[str, BinaryIO, int | None]],
        progress: Progress | None = None,
    ) -> tuple[list[UploadResult], IngestReport]:
        """Save uploaded ``(file name, stream, declared size)`` files into the corpus's upload
        folder and ingest them; per file, whether it made it into the index and why not."""
        self._check_index()
        try:
            return uploads.save_and_ingest(
                self.settings, lambda paths, bar: self.ingest(paths, progress=bar), files, progress
            )
        except OSError as exc:
            # The index or the corpus folder went away, or may not be written: say so with a
            # 503 instead of an internal error (and without the server's paths).
            self._check_index()
            raise IndexUnavailable(
                f"the documents could not be saved or indexed ({_os_reason(exc)})"
            ) from exc

    def upload_types(self) -> list[str]:
        """File suffixes that can be ingested (".pdf", ".txt", ...)."""
        return uploads.supported_types()

    max_upload_files = uploads.MAX_FILES

    # --- the web: pages, feeds, watched folders ----------------------------------------------
    def _write_sources(
        self,
        items: list[tuple[Source, dict[str, Any]]],
        remove: list[str],
        progress: Progress | None = None,
    ) -> IngestReport:
        with self._ingest_lock:
            return ingest_sources(items, self.store, self.embedder, self.settings, remove, progress)

    # --- questions ------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        top_k: int | None = None,
        filters: Filters | dict[str, Any] | None = None,
        as_of: str | None = None,
    ) -> list[Hit]:
        """The ranked passages for ``query``, without composing an answer."""
        query = validate.question(query, self.settings.answer.max_question_chars)
        return self.retriever.retrieve(
            query,
            top_k=validate.top_k(top_k),
            filters=validate.filters(filters),
            as_of=validate.iso_date(as_of, "as_of"),
        )

    def ask(
        self,
        question: str,
        session: str | None = None,
        filters: Filters | dict[str, Any] | None = None,
        top_k: int | None = None,
        *,
        as_of: str | None = None,
        history: list[Turn] | list[tuple[str, str]] | None = None,
    ) -> Answer:
        """Answer ``question`` as if asked on ``as_of`` (ISO date; None = the newest document's
        date): relative time in the question ("this week") is read against it.

        ``session`` names a conversation to continue (see ``new_session``); ``history`` is a
        conversation the caller kept itself: earlier ``Turn``s (with their citations), or
        (question, answer text) pairs when only the text was kept."""
        answer: Answer | None = None
        for item in self.stream(
            question, session, filters, top_k, as_of=as_of, history=history, drafts=False
        ):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        session: str | None = None,
        filters: Filters | dict[str, Any] | None = None,
        top_k: int | None = None,
        *,
        as_of: str | None = None,
        history: list[Turn] | list[tuple[str, str]] | None = None,
        drafts: bool = True,
    ) -> Iterator[str | Answer]:
        """Text pieces of the answer as they are ready, then the finished Answer.

        With an LLM and ``drafts``, the pieces are the model's words as it writes them: a
        draft that verification may still cut or renumber, so a front end replaces the
        streamed text with ``Answer.answer`` when it arrives. Without ``drafts`` only verified
        text is streamed (for clients that cannot take text back, such as an SSE stream).
        Invalid input raises before the first piece."""
        started = time.perf_counter()
        try:
            for piece in self._stream(question, session, filters, top_k, as_of, history, drafts):
                if isinstance(piece, Answer):
                    seconds = time.perf_counter() - started
                    self.metrics.observe_answer(
                        piece.answered, piece.timings_ms, seconds, piece.verification
                    )
                    _log_question(piece, seconds)
                yield piece
        except AssistantError as exc:
            self.metrics.observe_error(exc.code)
            raise

    def _stream(
        self,
        question: str,
        session: str | None,
        filters: Filters | dict[str, Any] | None,
        top_k: int | None,
        as_of: str | None,
        history: list[Turn] | list[tuple[str, str]] | None,
        drafts: bool,
    ) -> Iterator[str | Answer]:
        s = self.settings
        question = validate.question(question, s.answer.max_question_chars)
        checked = validate.filters(filters)
        depth = validate.top_k(top_k)
        day = validate.iso_date(as_of, "as_of")
        self._check_index()
        chat = self._session(session, history)
        if self.store.count() == 0:
            # No location: this message reaches API clients, who need no server paths.
            raise EmptyIndex("The index is empty: run `assistant ingest` first.")
        # Without drafts the model is asked for its whole answer at once (no token stream).
        pieces = self._flow(question, chat, checked, depth, day, stream=drafts)
        if drafts or self.llm is None:
            yield from pieces
            return
        answer = next(p for p in pieces if isinstance(p, Answer))
        for paragraph in answer.answer.split("\n\n"):
            yield paragraph + "\n\n"
        yield answer

    def new_session(self, keep: bool = True) -> str:
        """A new conversation's id, to pass as ``session``. With ``keep`` it is written to the
        index's session store once a follow-up continues it; without, it stays in memory."""
        return self.sessions.new(persist=None if keep else False).id

    def conversation(self, session: str) -> list[Turn]:
        """The turns of a conversation so far, oldest first, with their citations."""
        return list(self.sessions.get(session).turns)

    def _session(
        self, session: str | None, history: list[Turn] | list[tuple[str, str]] | None
    ) -> ChatSession | None:
        if session is not None:
            try:
                return self.sessions.get(session)
            except OSError as exc:
                raise IndexUnavailable(
                    f"the conversation could not be read ({_os_reason(exc)})"
                ) from exc
        if history:
            return session_from_history(
                [
                    t
                    if isinstance(t, Turn)
                    else (validate.clean_text(str(t[0])), validate.clean_text(str(t[1])))
                    for t in history
                ]
            )
        return None

    def _flow(
        self,
        question: str,
        chat: ChatSession | None,
        filters: Filters | None,
        top_k: int | None,
        as_of: str | None,
        stream: bool,
    ) -> Iterator[str | Answer]:
        s = self.settings
        language = foreign_language(question)
        if language is not None:
            # Searching English documents with another language's words finds their names
            # and figures only, and the refusal would name them as if they were the point.
            text = (
                f"{NO_ANSWER} The question seems to be in {language}: this assistant reads "
                "English questions and documents only, so it cannot search for it reliably. "
                "Please ask in English."
            )
            yield text
            yield Answer(
                question=question,
                standalone_question=question,
                answered=False,
                answer=text,
                citations=[],
                retrieved=[],
                timings_ms={},
                notices=[f"question not in English ({language})"],
                session_id=chat.id if chat is not None and chat.persist is not False else None,
            )
            return
        notices: list[str] = []
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        cond = self._condense(chat.turns if chat else [], question, notices)
        if self.llm is not None and chat and chat.turns:
            timings["condense"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        fixed = correct(cond.standalone, self.retriever.idf)
        if fixed is not None:
            focus = correct(cond.focus, self.retriever.idf)
            cond = Condensed(fixed.text, focus.text if focus else cond.focus, cond.context)
            notices.append(fixed.notice)
        shown = top_k or s.retrieval.top_k
        # The reader reads deeper than the passages shown: an answer below them is found.
        # In LLM mode too, for the offline answer that stands in when the model's fails.
        depth = max(shown, s.answer.read_chunks)
        hits = self.retriever.retrieve(cond.standalone, top_k=depth, filters=filters, as_of=as_of)
        t1 = time.perf_counter()
        texts = self.store.doc_texts([h.chunk.doc_id for h in hits])
        # A chunk whose document is not committed yet (a write in progress elsewhere) is not
        # citable: its offsets would refer to a text we cannot show.
        citable = [h for h in hits if h.chunk.doc_id in texts]
        if len(citable) < len(hits):
            hits = [replace(h, rank=n) for n, h in enumerate(citable, start=1)]
        draft: Draft | None = None
        day = parse_iso(as_of) if as_of else self.retriever.newest_date()

        def offline() -> Draft:
            return self.answerer.draft(cond.focus, hits, texts, context=cond.context, as_of=day)

        if self.llm is not None:
            try:
                for piece in self.llm.answer(cond.standalone, hits[:shown], texts, stream):
                    if isinstance(piece, str):
                        yield piece
                    else:
                        draft = piece
            except LLMUnavailable as exc:
                if s.llm.fallback == "error":
                    raise
                self.metrics.observe_fallback("answer")
                notices.append(f"{exc}; showing quoted passages instead (llm_fallback)")
            if draft is not None and (not draft.answered or draft.lost_opening):
                draft = self._never_worse(draft, offline(), notices)
        if draft is None:
            draft = offline()
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
            retrieved=hits[:shown],
            timings_ms=timings,
            notices=notices + draft.notices,
            verification=draft.verification,
            session_id=chat.id if chat is not None and chat.persist is not False else None,
        )
        if chat is not None:
            chat.add(
                Turn(question, cond.standalone, answer.answer, answer.answered, answer.citations)
            )
            try:
                self.sessions.save(chat)
            except OSError as exc:
                raise IndexUnavailable(
                    f"the conversation could not be saved ({_os_reason(exc)}): the server "
                    "cannot write its sessions folder"
                ) from exc
        yield answer

    def _never_worse(self, llm: Draft, quoted: Draft, notices: list[str]) -> Draft:
        """The model refused, or its opening sentence failed verification: the offline
        answer when it has one (a model must never do worse than no model), and when both
        refuse, the offline refusal, which says what the documents do and do not mention."""
        if llm.answered and not quoted.answered:
            return llm
        self.metrics.observe_fallback("verification")
        why = (
            "the model's opening sentence is not supported by the passages"
            if llm.answered
            else "the model found no answer it could support"
        )
        notices.append(f"{why}; showing the quoted passages instead" if quoted.answered else why)
        return replace(
            quoted, notices=[*llm.notices, *quoted.notices], verification=llm.verification
        )

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
            self.metrics.observe_fallback("condense")
            notices.append(f"{exc}; the follow-up was resolved without it")
            return condense(history, question)
        return Condensed(standalone, standalone, "")

    def warm_up(self) -> None:
        """Open the index and load the models before the first question: a server calls this
        at start-up so that no request pays for it, and concurrent first requests do not each
        build the backends."""
        if self.store.count() == 0:
            return
        self.retriever.warm_up()
        warm = getattr(self.answerer.reader, "warm_up", None)
        if warm is not None:
            warm()
        self.embedder.get_query_embedding("warm up")

    def upgrade_database(self) -> list[str]:
        """Create or migrate the database tables the settings need (idempotent); the steps
        applied, none when it was up to date (or there is no database)."""
        return backend(self.settings).upgrade(self.settings)

    # --- inspection -----------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        """Every indexed document (doc_id, source, title, url, published, chunks), newest
        first."""
        self._check_index()
        docs = [_doc_record(doc_id, m) for doc_id, m in self.store.doc_records().items()]
        return sorted(docs, key=lambda d: (d["published"] or "", d["source"]), reverse=True)

    def document_texts(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """The stored (cleaned) text of documents by id: what citation offsets refer to."""
        ids = [i for i in doc_ids if i]
        return self.store.doc_texts(ids) if ids else {}

    def document(self, doc_id: str) -> dict[str, Any]:
        """One indexed document: its ``documents()`` record plus ``text``, the stored text that
        citation offsets refer to. Raises ``NotFound`` for an unknown id."""
        found = self.store.doc_records_of([doc_id]) if doc_id else {}
        if doc_id not in found:
            raise NotFound(f"no document with id {doc_id!r} in the index")
        meta, text = found[doc_id]
        return {**_doc_record(doc_id, meta), "text": text}

    def is_empty(self) -> bool:
        return self.store.count() == 0

    def _check_index(self) -> None:
        """Raise ``IndexUnavailable`` when the on-disk index was deleted or may not be
        written. An open index keeps working on its deleted files (the process still holds
        them), so the folder is looked at, not the database."""
        s = self.settings.index
        if s.chroma_url or self._store is None:
            return  # not opened yet: opening creates it; a server's errors say why
        if not (s.index_dir / "chroma.sqlite3").is_file():
            raise IndexUnavailable(
                "the index directory is missing (deleted while the server was running?): run "
                "`assistant ingest` and restart the server"
            )
        if not os.access(s.index_dir, os.W_OK | os.X_OK):
            raise IndexUnavailable("the index directory may not be written by the server")

    def _check_sessions(self) -> None:
        folder = self.sessions.folder
        if folder is None:
            return
        if folder.exists() and not folder.is_dir():
            raise IndexUnavailable("the sessions folder of the index is not a folder")
        writable = folder if folder.exists() else folder.parent
        if not os.access(writable, os.W_OK | os.X_OK):
            raise IndexUnavailable("the sessions folder of the index may not be written")

    def health(self) -> dict[str, Any]:
        """What the index holds, or ``IndexUnavailable`` saying what is wrong with it."""
        _ = self.store  # opened (and checked) on first use
        self._check_index()
        self._check_sessions()
        try:
            documents, chunks = self.store.doc_count(), self.store.count()
        except Exception as exc:  # a Chroma server that is down, a damaged database
            raise IndexUnavailable(f"the index cannot be read ({type(exc).__name__})") from exc
        return {
            "status": "ok",
            "documents": documents,
            "chunks": chunks,
            "embedder": self.settings.index.embedder,
            "llm": self.settings.llm.backend,
        }

    @property
    def uses_llm(self) -> bool:
        return self.prompts is not None


questions_log = logging.getLogger("assistant.questions")


def _log_question(answer: Answer, seconds: float) -> None:
    """One line per question for the server log: its outcome and where the time went, never
    its words (a reporter's question is their business); the request id ties it to the
    access line."""
    from assistant.logs import request_id

    parts = ", ".join(f"{k} {v:.0f} ms" for k, v in answer.timings_ms.items())
    rid = request_id.get()
    questions_log.info(
        "question %s in %.0f ms (%s; %d sources)%s",
        "answered" if answer.answered else "refused",
        seconds * 1000,
        parts or "no timings",
        len({c.doc_id for c in answer.citations}),
        f" [request {rid}]" if rid else "",
    )


def _doc_record(doc_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "source": meta.get("source", ""),
        "title": meta.get("title", ""),
        "url": http_url(meta.get("url")),
        "published": meta.get("published") or None,
        "chunks": int(meta.get("chunks", 0)),
        # what an upload said its address was: shown as a claim, never used as the link
        **({"claimed_url": meta["claimed_url"]} if meta.get("claimed_url") else {}),
        # how a text file that was not UTF-8 was read
        **({"encoding": meta["encoding"]} if meta.get("encoding") else {}),
    }


def _os_reason(exc: OSError) -> str:
    """An OSError's reason without the path it names (which is the server's business)."""
    return exc.strerror or type(exc).__name__


# What front ends need of the core beside Assistant: checking a URL field as they parse a
# request (so the reply that repeats it can be encoded), and writing a document's title
# where a "[7]" in it would read as a citation marker.
validate_url = validate.url

__all__ = ["NO_ANSWER", "Assistant", "neutralise_markers", "validate_url"]
