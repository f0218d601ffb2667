"""Plain typed records shared by every layer: what was read, stored, retrieved and answered."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Filters:
    """Restrict retrieval by publication date (inclusive ISO dates) or by source id; leave
    out documents by id (``exclude_docs``: how an evaluation asks without the gold article)."""

    since: str | None = None
    until: str | None = None
    sources: list[str] = field(default_factory=list)
    exclude_docs: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources or self.exclude_docs)


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


def http_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL, else None: a document's metadata may say
    ``url: javascript:...``, and whatever is called a URL here ends up as a link."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    scheme, sep, rest = url.partition(":")
    if sep and scheme.lower() in ("http", "https") and rest.startswith("//") and len(rest) > 2:
        return url
    return None


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
    # The answer phrase the reader marked inside the quote (document offsets, within
    # start..end), shown in bold; None when the reader marked none.
    answer_start: int | None = None
    answer_end: int | None = None

    def __post_init__(self) -> None:
        self.url = http_url(self.url)  # indexes built before readers checked URLs too
        inside = (
            self.answer_start is not None
            and self.answer_end is not None
            and self.start <= self.answer_start < self.answer_end <= self.end
        )
        if not inside:
            self.answer_start = self.answer_end = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("doc_id")
        return d


def answer_phrases(answer: str, citations: list[Citation]) -> list[tuple[int, int]]:
    """Where each citation's answer phrase stands in the answer's text, in order: the quote
    precedes its marker there (document markers written as "(7)", the same length). Empty for
    citations without a phrase, and for a phrase that is most of its quote (nothing to pick
    out)."""
    out: list[tuple[int, int]] = []
    for c in citations:
        if c.answer_start is None or c.answer_end is None:
            continue
        if c.answer_end - c.answer_start > 0.8 * len(c.quote):
            continue
        at = answer.find(f" [{c.n}]")
        begin = at - len(c.quote)
        if at < 0 or begin < 0 or not _same_quote(answer[begin:at], c.quote):
            continue
        out.append((begin + c.answer_start - c.start, begin + c.answer_end - c.start))
    return sorted(out)


def _same_quote(shown: str, quote: str) -> bool:
    return shown == quote or shown.replace("(", "[").replace(")", "]") == quote.replace(
        "(", "["
    ).replace(")", "]")


def split_phrases(text: str, phrases: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is an answer phrase) runs, for front ends to style."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for a, b in phrases:
        if a < pos or b > len(text):
            continue
        if a > pos:
            out.append((text[pos:a], False))
        out.append((text[a:b], True))
        pos = b
    if pos < len(text):
        out.append((text[pos:], False))
    return out


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
    # The conversation this answer continues (None for a one-off question): pass it back as
    # ``session`` to ask a follow-up.
    session_id: str | None = None

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


@dataclass
class IngestReport:
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    docs_added: int = 0
    docs_updated: int = 0
    docs_unchanged: int = 0
    docs_removed: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    # Web pages asked for, and how many of them answered "not modified" (one request each).
    urls_seen: int = 0
    urls_not_modified: int = 0
    # What came in: ("added" or "updated", title, source) of each document written.
    arrived: list[tuple[str, str, str]] = field(default_factory=list)
    # (source, language) of documents read that are not in English: indexed, but the
    # assistant reads English, so the user is told.
    not_english: list[tuple[str, str]] = field(default_factory=list)
    # Resolved path of each file read or found unchanged -> its documents now in the index
    # (uploads report per file from it). Server paths: never part of to_dict().
    docs_by_file: dict[str, int] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "docs_by_file"}
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        d["arrived"] = [{"status": s, "title": t, "source": src} for s, t, src in self.arrived]
        d["not_english"] = [{"source": s, "language": lang} for s, lang in self.not_english]
        return d

    def merge(self, other: IngestReport) -> IngestReport:
        """This report with ``other``'s counts and lists added (a run over files and URLs)."""
        for name, value in other.__dict__.items():
            mine = getattr(self, name)
            if isinstance(value, list | int | float) and not isinstance(value, bool):
                setattr(self, name, mine + value)
            elif isinstance(value, dict):
                mine.update(value)
        return self

    def summary(self, arrivals: int = 20) -> str:
        lines = []
        if self.files_seen or not self.urls_seen:
            lines.append(
                f"files: {self.files_seen} seen, {self.files_read} read, "
                f"{self.files_unchanged} unchanged, {len(self.skipped)} skipped"
            )
        if self.urls_seen:
            lines.append(
                f"pages: {self.urls_seen} asked for, {self.urls_not_modified} not modified"
            )
        lines += [
            f"documents: {self.docs_added} added, {self.docs_updated} updated, "
            f"{self.docs_unchanged} unchanged, {self.docs_removed} removed",
            f"chunks: {self.chunks_added} added, {self.chunks_removed} removed",
            f"time: {self.seconds:.1f} s",
        ]
        lines += _arrival_lines(self.arrived, arrivals)
        if self.not_english:
            named = ", ".join(f"{printable(s)} ({lang})" for s, lang in self.not_english[:10])
            more = f" and {len(self.not_english) - 10} more" if len(self.not_english) > 10 else ""
            lines.append(f"not in English (the assistant reads English): {named}{more}")
        lines += [f"skipped {printable(p)}: {printable(r)}" for p, r in self.skipped]
        return "\n".join(lines)


def _arrival_lines(arrived: list[tuple[str, str, str]], limit: int, indent: str = "") -> list[str]:
    """One line per (status, title, source) that came in, at most ``limit`` of them."""
    lines = [f"{indent}{s} “{printable(t)}” — {printable(src)}" for s, t, src in arrived[:limit]]
    if len(arrived) > limit:
        lines.append(f"{indent}... and {len(arrived) - limit} more")
    return lines


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a hostile file name can't forge lines or
    send terminal escape sequences through the summary."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


@dataclass
class UploadResult:
    name: str  # the name it was saved under
    source: str  # its source id in the index, e.g. "uploads/report.pdf"
    indexed: bool
    documents: int = 0
    reason: str | None = None  # why it was not indexed, or what in it was skipped

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class UrlResult:
    """One URL asked for: what became of it."""

    url: str  # as given
    status: str  # "added", "updated", "unchanged", "not modified", "duplicate", "failed"
    source: str | None = None  # the document's source id: its canonical URL
    title: str | None = None
    reason: str | None = None  # why it failed, or what it duplicates

    @property
    def indexed(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "indexed": self.indexed}


@dataclass
class FeedStatus:
    """A followed feed as `feeds list`, the API and the web UI show it."""

    id: str
    url: str
    title: str
    interval: float  # seconds between polls
    last_poll: str | None  # ISO time (UTC) of the last poll, None before the first
    next_poll: str | None
    items_ingested: int
    last_error: str | None
    failures: int  # failed polls in a row (the wait doubles with each)
    last_result: str  # "2 new, 1 updated", "not modified", ...

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FeedPoll:
    """One poll of one feed."""

    url: str
    title: str
    status: str  # "ok", "not modified", "error", "busy" (polled by another process)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item link or id, reason)
    error: str | None = None
    arrived: list[tuple[str, str, str]] = field(default_factory=list)  # as IngestReport's

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["failed"] = [{"item": i, "reason": r} for i, r in self.failed]
        d["arrived"] = [{"status": s, "title": t, "source": src} for s, t, src in self.arrived]
        return d

    def line(self) -> str:
        name = printable(self.title or self.url)
        if self.status == "error":
            return f"feed {name}: error: {printable(self.error or '')}"
        if self.status in ("not modified", "busy"):
            return f"feed {name}: {self.status}"
        said = f"{self.added} new, {self.updated} updated, {self.unchanged} unchanged"
        if self.failed:
            said += f", {len(self.failed)} failed ({printable(self.failed[0][1])})"
        return f"feed {name}: {said}"


@dataclass
class WatchReport:
    """One round of `assistant watch`: every feed polled and every watched folder scanned."""

    feeds: list[FeedPoll] = field(default_factory=list)
    folders: IngestReport | None = None  # None when no folder changed (or none is watched)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "feeds": [f.to_dict() for f in self.feeds],
            "folders": self.folders.to_dict() if self.folders is not None else None,
            "seconds": round(self.seconds, 3),
        }

    def summary(self, arrivals: int = 20) -> str:
        lines = []
        for poll in self.feeds:
            lines.append(poll.line())
            lines += _arrival_lines(poll.arrived, arrivals, indent="  ")
            lines += [f"  failed {printable(i)}: {printable(r)}" for i, r in poll.failed]
        if self.folders is not None:
            lines.append("folders:")
            lines += ["  " + line for line in self.folders.summary(arrivals).split("\n")]
        if not lines:
            lines.append("nothing to poll: no feeds (`assistant feeds add URL`) and no folders")
        return "\n".join(lines)
