"""Conversations: history, follow-up questions made standalone, sessions kept on disk."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.types import Citation, Turn

_FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|so|what about|how about|then)\b", re.I)
_PRONOUN = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|it|its|this|that|these|those)\b", re.I
)
_PERSON = re.compile(r"\b([A-Z][a-z]+)\s+(?:said|says|stated|added|told|warned|called)\b")
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|President|Minister|General|Secretary)\.?\s+([A-Z][a-z]+)")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Condensed:
    standalone: str  # what is retrieved with, and reported as standalone_question
    focus: str  # the question itself, pronouns resolved: what the answer must cover
    context: str  # the earlier question it follows, weighed less when choosing sentences


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP_START.search(question) or _PRONOUN.search(question))


def main_person(citations: list[Citation]) -> str | None:
    """The person the previous answer quoted most, for resolving 'he'/'she'."""
    counts: Counter[str] = Counter()
    for c in citations:
        counts.update(_PERSON.findall(c.quote))
        counts.update(_TITLED.findall(c.quote))
    return counts.most_common(1)[0][0] if counts else None


def condense(history: list[Turn], question: str) -> Condensed:
    """Without an LLM: resolve personal pronouns to the last answer's main speaker and carry
    the previous standalone question as context."""
    question = question.strip()
    if not history or not is_follow_up(question):
        return Condensed(question, question, "")
    last = history[-1]
    focus = _FOLLOW_UP_START.sub("", question).strip(" ,") or question
    person = main_person(last.citations)
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
    # False for conversations their front end already keeps (a browser tab, an OpenAI-style
    # request carrying its history): writing them to disk would only pile up files.
    persist: bool = True

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


def session_from_exchanges(exchanges: list[tuple[str, str, bool]]) -> ChatSession:
    """A conversation rebuilt from ``(question, answer text, answered)`` exchanges that a client
    kept (an OpenAI-style message list, a chat thread), so its follow-ups are understood.

    Such clients send back only the answer's text, which in an extractive answer consists of
    the quotes: it stands in for them when resolving "he"/"she" to the person quoted."""
    session = ChatSession(persist=False)
    for question, answer, answered in exchanges:
        standalone = condense(session.turns, question).standalone
        quotes = [Citation(1, "", "", None, None, answer, -1, -1)] if answered else []
        session.add(Turn(question, standalone, answer, answered, quotes))
    return session


class SessionStore:
    """Sessions by id, in memory and, given a folder, as JSON files that survive restarts."""

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

    def get(self, session_id: str | None) -> ChatSession:
        if session_id is not None and not _SESSION_ID.match(session_id):
            raise ValueError("session_id must be 1-64 characters of letters, digits, '-' or '_'")
        with self._lock:
            if session_id is None:
                s = ChatSession()
            elif session_id in self._mem:
                self._mem.move_to_end(session_id)
                return self._mem[session_id]
            else:
                path = self._path(session_id)
                if path is not None and path.is_file():
                    s = ChatSession.from_json(path.read_text(encoding="utf-8"))
                else:
                    s = ChatSession(id=session_id)
            self._mem[s.id] = s
            while len(self._mem) > self.keep_sessions:
                self._mem.popitem(last=False)
            return s

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
