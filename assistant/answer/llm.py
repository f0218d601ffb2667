"""LLM answering: the backend (llama-index ``OpenAILike`` or ``Ollama``), the evidence that
fits its context, generation with bounded retries, and follow-up condensation.

The model writes; it is not trusted. Its answer goes through ``verification.Verifier``
before anyone sees it as final, and a model that is down or too slow raises ``LLMUnavailable``
so the caller can fall back to the extractive answer or report the error, per
``llm_fallback``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from functools import cached_property, partial
from typing import Any

import numpy as np

from assistant.answer.extractive import NO_ANSWER, Draft, located
from assistant.answer.llms import check_installed, llm_spec, make_llm
from assistant.answer.prompts import Prompts, attribute, neutralise
from assistant.answer.verification import Evidence, Verifier
from assistant.errors import ConfigError, LLMUnavailable
from assistant.settings import Settings
from assistant.text import sentence_spans, strip_markers, strip_thinking
from assistant.types import Hit, Turn

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 16  # tokens a chat template adds around each message
MIN_EVIDENCE_TOKENS = 200  # below this, the context setting leaves no room to answer
HISTORY_TURNS = 3  # earlier turns shown to the model when condensing a follow-up
HISTORY_ANSWER_CHARS = 600


def check_backend(settings: Settings) -> None:
    """Fail at start, with the install command, when the chosen backend is missing or its
    context settings leave no room for evidence."""
    check_installed(settings.llm.backend)
    if settings.llm.context_tokens - settings.llm.max_tokens < 2 * MIN_EVIDENCE_TOKENS:
        raise ConfigError(
            f"llm_context_tokens ({settings.llm.context_tokens}) leaves no room for evidence "
            f"after llm_max_tokens ({settings.llm.max_tokens}): raise the first or lower the "
            "second"
        )


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the server failed", as opposed to a bug in our code."""
    errors: list[type[BaseException]] = [OSError, TimeoutError]  # ConnectionError is an OSError
    try:
        import httpx

        errors.append(httpx.HTTPError)
    except ImportError:
        pass
    try:
        import openai

        errors.append(openai.APIError)
    except ImportError:
        pass
    try:
        import ollama

        errors.append(ollama.ResponseError)
    except ImportError:
        pass
    return tuple(errors)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) and status > 0 else None


def describe_failure(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """A one-line reason for the user (never the key), and whether a retry may help."""
    status = _status(exc)
    if status is not None:
        reason = f"HTTP {status}"
        if status in (401, 403):
            reason += " (authentication failed: check ASSISTANT_LLM_API_KEY or OPENAI_API_KEY)"
        elif status == 404:
            reason += " (wrong base URL or unknown model?)"
        return reason, status in (408, 409, 425, 429) or status >= 500
    if isinstance(exc, FirstTokenTimeout):
        return str(exc), False
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        # Asking again would only double the wait before the fallback answer.
        return f"no answer within {timeout:g} s (llm_timeout)", False
    detail = str(exc).splitlines()[0][:200] if str(exc) else name
    return f"cannot reach the server ({detail})", True


class FirstTokenTimeout(TimeoutError):
    """The model streamed nothing within ``llm_first_token_timeout``."""


def _first_within(start: Callable[[], Iterator[Any]], seconds: float) -> Iterator[Any]:
    """The pieces of the stream ``start()`` opens, raising FirstTokenTimeout when the first
    takes longer than ``seconds``: a model that is loading or queued would otherwise hold the
    answer for the whole ``llm_timeout``. The request left behind ends on its client timeout."""
    import queue

    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    opened: list[Iterator[Any]] = []

    def first() -> None:
        try:
            opened.append(start())
            box.put((True, next(opened[0])))
        except BaseException as exc:  # StopIteration included: handed over as it is
            box.put((False, exc))

    threading.Thread(target=first, name="llm-first-token", daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise FirstTokenTimeout(
            f"no first token within {seconds:g} s (llm_first_token_timeout)"
        ) from None
    if not ok:
        if isinstance(value, StopIteration):
            return
        raise value
    yield value
    yield from opened[0]


def build_evidence(
    hits: list[Hit],
    doc_texts: dict[str, str],
    budget: int,
    count: Callable[[str], int],
) -> list[Evidence]:
    """As many ranked passages as ``budget`` tokens allow, each made of whole sentences.

    A chunk's edges may fall inside a sentence, so each passage is widened to the sentences
    it touches; one that does not fit whole is trimmed at a sentence boundary (a cut
    sentence could be read as saying something it does not), and sentences already given in
    an earlier passage are not repeated.
    """
    out: list[Evidence] = []
    given: set[tuple[str, int]] = set()
    left = budget
    for hit, doc, start, end in located(hits, doc_texts):
        c = hit.chunk
        line_start = doc.rfind("\n", 0, start) + 1
        line_end = doc.find("\n", end)
        line_end = len(doc) if line_end < 0 else line_end
        spans = [
            s
            for s in sentence_spans(doc, line_start, line_end)
            if s[0] < end and s[1] > start and (c.doc_id, s[0]) not in given
        ]
        for run in _runs(spans, doc):
            header = count(_header(len(out) + 1, hit)) + 4
            kept: list[tuple[int, int]] = []
            cost = header
            for s in run:
                t = count(doc[s[0] : s[1]]) + 1
                if cost + t > left:
                    break
                kept.append(s)
                cost += t
            if not kept:
                continue
            left -= cost
            given.update((c.doc_id, s[0]) for s in kept)
            a, b = kept[0][0], kept[-1][1]
            out.append(Evidence(len(out) + 1, hit, c.doc_id, a, b, kept, doc[a:b]))
        if left < MIN_EVIDENCE_TOKENS // 4:
            break
    return out


def _runs(spans: list[tuple[int, int]], doc: str) -> list[list[tuple[int, int]]]:
    """Split sentences into runs with nothing left out between them (a sentence already
    given elsewhere leaves a gap that must not be papered over)."""
    runs: list[list[tuple[int, int]]] = []
    for s in spans:
        if runs and not doc[runs[-1][-1][1] : s[0]].strip():
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _header(n: int, hit: Hit) -> str:
    c = hit.chunk
    return (
        f'<evidence id="{n}" title="{attribute(c.title)}" '
        f'published="{c.published or "unknown"}" source="{attribute(c.source)}">'
    )


def render_evidence(evidence: list[Evidence]) -> str:
    blocks = [f"{_header(e.n, e.hit)}\n{neutralise(e.text)}\n</evidence>" for e in evidence]
    return "\n\n".join(blocks)


def render_history(history: list[Turn]) -> str:
    lines = []
    for t in history[-HISTORY_TURNS:]:
        answer = strip_markers(t.answer).strip()
        if len(answer) > HISTORY_ANSWER_CHARS:
            answer = answer[:HISTORY_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"User: {neutralise(t.question)}\nAssistant: {neutralise(answer)}")
    return "\n\n".join(lines)


def parse_standalone(reply: str, question: str, limit: int) -> str:
    """The model's one-line question, without labels or quotes; the question itself when the
    reply is unusable (empty, a refusal, an essay)."""
    reply = strip_thinking(reply)
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    if not lines:
        return question
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", lines[0], flags=re.I)
    line = line.strip().strip("\"'“”‘’`").strip()
    if not line or len(line) > limit or line.lower().startswith(NO_ANSWER.lower()[:24]):
        return question
    return line


class LLMAnswerer:
    """Writes answers with an LLM from numbered evidence, then verifies them."""

    def __init__(
        self,
        settings: Settings,
        prompts: Prompts,
        embed: Callable[[list[str]], np.ndarray] | None,
        idf: Callable[[str], float | None],
    ) -> None:
        check_backend(settings)
        self.settings = settings
        self.prompts = prompts
        self.verifier = Verifier(settings, embed, idf)
        self._lock = threading.Lock()
        self._llm: Any = None
        self.where = llm_spec(settings.llm.backend).where(settings)

    @property
    def llm(self) -> Any:
        """The llama-index LLM, built on first use (one per process, shared by threads)."""
        if self._llm is None:
            with self._lock:
                if self._llm is None:
                    self._llm = make_llm(self.settings)
        return self._llm

    @cached_property
    def _encoding(self) -> Any:
        import tiktoken

        return tiktoken.get_encoding(self.settings.index.tokenizer)

    def count_tokens(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))

    # --- prompts --------------------------------------------------------------------------
    def _system(self) -> str:
        return self.prompts.system.format(
            refusal=self.prompts.refusal, today=date.today().isoformat()
        )

    def _user(self, question: str, evidence: str) -> str:
        return self.prompts.answer.format(
            evidence=evidence,
            question=neutralise(question),
            refusal=self.prompts.refusal,
            today=date.today().isoformat(),
        )

    def evidence_budget(self, question: str) -> int:
        fixed = self.count_tokens(self._system()) + self.count_tokens(self._user(question, ""))
        return (
            self.settings.llm.context_tokens
            - self.settings.llm.max_tokens
            - fixed
            - 3 * MESSAGE_OVERHEAD
        )

    # --- the flow -------------------------------------------------------------------------
    def condense(self, history: list[Turn], question: str) -> str:
        """The follow-up rewritten by the model as a standalone question."""
        prompt = self.prompts.condense.format(
            history=render_history(history), question=neutralise(question)
        )
        reply = "".join(self.generate(None, prompt, stream=False))
        return parse_standalone(reply, question, self.settings.answer.max_question_chars)

    def answer(
        self, question: str, hits: list[Hit], doc_texts: dict[str, str], stream: bool
    ) -> Iterator[str | Draft]:
        """Text pieces as the model writes them (when ``stream``), then the verified Draft."""
        budget = self.evidence_budget(question)
        evidence = build_evidence(hits, doc_texts, budget, self.count_tokens)
        if not evidence:
            yield Draft(False, f"{NO_ANSWER} Nothing in the index matches it.", [])
            return
        if len(evidence) < len(hits):
            log.debug("%d of %d passages fit the context", len(evidence), len(hits))
        text = ""
        user = self._user(question, render_evidence(evidence))
        for piece in self.generate(self._system(), user, stream):
            text += piece
            if stream:
                yield piece
        yield self.verifier.verify(text, evidence, doc_texts, [self.prompts.refusal, NO_ANSWER])

    def generate(self, system: str | None, user: str, stream: bool) -> Iterator[str]:
        """The model's reply, in pieces. Failures before the first piece are retried
        (``llm_retries``, short backoff); after it, a retry would repeat text already shown."""
        from llama_index.core.llms import ChatMessage, MessageRole

        errors = _transport_errors()
        retries = self.settings.llm.retries
        for attempt in range(retries + 1):
            produced = False
            try:
                if self.settings.llm.backend == "openai" and not self.settings.llm.chat:
                    prompt = f"{system}\n\n{user}\n\n" if system else f"{user}\n\n"
                    if stream:
                        for r in _first_within(
                            partial(self.llm.stream_complete, prompt, formatted=True),
                            self.settings.llm.first_token_timeout,
                        ):
                            if r.delta:
                                produced = True
                                yield r.delta
                    else:
                        yield self.llm.complete(prompt, formatted=True).text or ""
                else:
                    messages = [ChatMessage(role=MessageRole.USER, content=user)]
                    if system:
                        messages.insert(0, ChatMessage(role=MessageRole.SYSTEM, content=system))
                    if stream:
                        for r in _first_within(
                            partial(self.llm.stream_chat, messages),
                            self.settings.llm.first_token_timeout,
                        ):
                            if r.delta:
                                produced = True
                                yield r.delta
                    else:
                        yield self.llm.chat(messages).message.content or ""
                return
            except errors as exc:
                reason, retriable = describe_failure(exc, self.settings.llm.timeout)
                if produced or not retriable or attempt == retries:
                    raise LLMUnavailable(f"the {self.where} failed: {reason}") from exc
                log.info("LLM request failed (%s); retrying", reason)
                time.sleep(min(0.25 * 2**attempt, 4.0))
