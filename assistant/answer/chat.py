"""Conversations: history, follow-up questions made standalone, sessions kept on disk."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from assistant import validate
from assistant.types import Citation, Turn

_FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|so|what about|how about|then)\b", re.I)
_PRONOUN = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|it|its|this|that|these|those)\b", re.I
)
_PERSON = re.compile(r"\b([A-Z][a-z]+)\s+(?:said|says|stated|added|told|warned|called)\b")
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|President|Minister|General|Secretary)\.?\s+([A-Z][a-z]+)")


@dataclass
class Condensed:
    standalone: str  # what is retrieved with, and reported as standalone_question
    focus: str  # the question itself, pronouns resolved: what the answer must cover
    context: str  # the earlier question it follows, weighed less when choosing sentences


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP_START.search(question) or _PRONOUN.search(question))


def main_person(turn: Turn) -> str | None:
    """The person the previous answer quoted most, for resolving 'he'/'she': from its cited
    quotes, or from its text when a client kept only that (an OpenAI-style message list)."""
    texts = [c.quote for c in turn.citations] or [turn.answer]
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_PERSON.findall(text))
        counts.update(_TITLED.findall(text))
    return counts.most_common(1)[0][0] if counts else None


def condense(history: list[Turn], question: str) -> Condensed:
    """Without an LLM: resolve personal pronouns to the last answer's main speaker and carry
    the previous standalone question as context."""
    question = question.strip()
    if not history or not is_follow_up(question):
        return Condensed(question, question, "")
    last = history[-1]
    focus = _FOLLOW_UP_START.sub("", question).strip(" ,") or question
    person = main_person(last)
    if person:
        focus = re.sub(r"\b(he|she|him|her)\b", person, focus, flags=re.I)
        focus = re.sub(r"\b(his|hers)\b", f"{person}'s", focus, flags=re.I)
    focus = focus[:1].upper() + focus[1:]
    context = last.standalone_question
    return Condensed(f"{focus} (following: {context})", focus, context)


@dataclass
class ChatSession:
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    turns: list[Turn] = field(default_factory=list)
    # Whether it is written to the session store: True; False for conversations a front end
    # keeps itself (a browser tab, a client-sent history); None for a one-off question, until
    # its client comes back by id. Writing the others would only pile up files.
    persist: bool | None = True

    def add(self, turn: Turn) -> None:
        self.turns.append(turn)

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "turns": [asdict(t) for t in self.turns]})

    @classmethod
    def from_json(cls, raw: str) -> ChatSession:
        data = json.loads(raw)
        turns = []
        for t in data.get("turns", []):
            cits = [Citation(**c) for c in t.pop("citations", [])]
            turns.append(Turn(**t, citations=cits))
        return cls(id=data["id"], turns=turns)


def session_from_history(history: list[Turn | tuple[str, str]]) -> ChatSession:
    """A conversation that a client kept itself, as a session that is never stored: earlier
    turns with their citations (a Slack thread's message metadata), or ``(question, answer
    text)`` pairs when only the text was kept (an OpenAI-style message list)."""
    session = ChatSession(persist=False)
    for item in history:
        if isinstance(item, Turn):
            session.add(item)
            continue
        question, answer = item
        if question.strip():
            standalone = condense(session.turns, question).standalone
            session.add(Turn(question, standalone, answer, True, []))
    return session


class Sessions(Protocol):
    """Where conversations are kept (assistant/backends.py picks one)."""

    # The folder the sessions are written to, checked by the server's health; None when they
    # live elsewhere (memory only, or a database).
    folder: Path | None

    def new(self, persist: bool | None) -> ChatSession: ...

    def get(self, session_id: str) -> ChatSession: ...

    def save(self, session: ChatSession) -> None: ...


class SessionStore:
    """Sessions by id, in memory and, given a folder, as JSON files that survive restarts.
    Per process: replicas behind one address share sessions through PostgreSQL instead."""

    def __init__(
        self, folder: Path | None = None, keep_turns: int = 20, keep_sessions: int = 1000
    ) -> None:
        self.folder = folder
        self.keep_turns = keep_turns
        # A server creates a session per conversation; only the most recently used stay in
        # memory (the others are reloaded from their files when a folder is set).
        self.keep_sessions = keep_sessions
        self._mem: OrderedDict[str, ChatSession] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, persist: bool | None) -> ChatSession:
        """A new conversation, kept in memory (and, once ``persist``, on disk)."""
        s = ChatSession(persist=persist)
        with self._lock:
            self._remember(s)
        return s

    def get(self, session_id: str) -> ChatSession:
        """The conversation ``session_id``, or a new one under that id; a client that names a
        conversation comes back to it, so it is kept from now on."""
        session_id = validate.session_id(session_id)
        with self._lock:
            if session_id in self._mem:
                self._mem.move_to_end(session_id)
                s = self._mem[session_id]
                if s.persist is None and s.turns:
                    s.persist = True  # its client came back for a follow-up
                return s
            path = self._path(session_id)
            if path is not None and path.is_file():
                s = ChatSession.from_json(path.read_text(encoding="utf-8"))
            else:
                s = ChatSession(id=session_id)
            self._remember(s)
            return s

    def _remember(self, s: ChatSession) -> None:
        self._mem[s.id] = s
        while len(self._mem) > self.keep_sessions:
            self._mem.popitem(last=False)

    def save(self, session: ChatSession) -> None:
        session.turns = session.turns[-self.keep_turns :]
        path = self._path(session.id)
        if path is None or not session.persist:
            return
        # Under the lock: two answers in one session at once would share the .tmp file.
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(session.to_json(), encoding="utf-8")
            tmp.replace(path)

    def _path(self, session_id: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{session_id}.json"
