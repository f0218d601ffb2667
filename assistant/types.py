"""Plain typed records shared by every layer: what was read, stored, retrieved and answered."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Source:
    """One document as read and cleaned. Citation offsets refer to ``text``."""

    doc_id: str
    source: str  # path relative to the corpus root, or the record's URL/id
    text: str
    title: str
    url: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    authors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chunk:
    """A retrievable piece of one document; ``start``/``end`` are offsets in its text."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    source: str
    title: str
    url: str | None = None
    published: str | None = None


@dataclass
class Hit:
    """A chunk ranked for one query."""

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None  # cosine similarity when the dense retriever found it
    lexical: float | None = None  # BM25 score when the keyword retriever found it


@dataclass
class Citation:
    n: int
    source: str
    title: str
    url: str | None
    published: str | None
    quote: str
    start: int
    end: int
    doc_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("doc_id")
        return d


@dataclass
class Answer:
    """The answer contract of DESIGN.md; ``to_dict`` is what every front end emits."""

    question: str
    standalone_question: str
    answered: bool
    answer: str
    citations: list[Citation]
    retrieved: list[Hit]
    timings_ms: dict[str, float]
    notices: list[str] = field(default_factory=list)
    # Only when an LLM wrote the answer: sentences "verified", "marked", "dropped" and
    # "markers_removed" by claim-by-claim verification (assistant/answer/verification.py).
    verification: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answered": self.answered,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    "rank": h.rank,
                    "source": h.chunk.source,
                    "title": h.chunk.title,
                    "published": h.chunk.published,
                    "score": round(h.score, 6),
                    "text": h.chunk.text,
                }
                for h in self.retrieved
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.notices:
            d["notices"] = self.notices
        if self.verification is not None:
            d["verification"] = dict(self.verification)
        return d


@dataclass
class Turn:
    """One exchange in a conversation."""

    question: str
    standalone_question: str
    answer: str
    answered: bool
    citations: list[Citation] = field(default_factory=list)
