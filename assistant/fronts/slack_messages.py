"""Slack's message format in and out: questions from event text, conversation history from a
thread, and answers as Block Kit messages within Slack's limits.

Pure functions with no Slack client, so the format is tested without a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.types import Answer, Citation, Turn, answer_phrases, split_phrases

SECTION_CHARS = 3000  # Slack's limit for a section block's text
CONTEXT_CHARS = 2000  # ... and for a context block element
MESSAGE_BLOCKS = 20  # Slack allows 50 blocks; fewer keeps each message readable on a phone
MESSAGE_CHARS = 12000  # Slack truncates `text` at 40,000 and advises far less per message
QUOTE_CHARS = 200  # quotes in the source list are a reminder; the full one is in the document
META_QUOTE_CHARS = 500  # quotes kept in a message's metadata, for the thread's history
META_CITATIONS = 20
ANSWER_EVENT = "newsroom_answer"  # metadata event_type marking the first message of an answer
# Message subtypes that are a person writing; edits, joins and deletions are not questions.
PERSON_SUBTYPES = (None, "thread_broadcast", "file_share")

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]*)>|<#([A-Z0-9]+)>")
_SPECIAL = re.compile(r"<![^>|]*(?:\|([^>]*))?>")  # @here, dates, user groups
_LINK = re.compile(r"<((?:https?|mailto):[^>|]*)(?:\|([^>]*))?>")


# --- in: Slack text -> plain text ------------------------------------------------------------
def plain_text(text: str, bot_user_id: str | None = None) -> str:
    """Slack's markup as a person reads it; mentions of the bot itself are dropped."""

    def user(m: re.Match[str]) -> str:
        if bot_user_id and m.group(1) == bot_user_id:
            return " "
        return "@" + (m.group(2) or m.group(1))

    text = _USER.sub(user, text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(1) or m.group(2)), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    # A broadcast (@here) is no part of the question; a date or group keeps its label.
    text = _SPECIAL.sub(lambda m: m.group(1) or "", text)
    # Slack escapes exactly these three; html.unescape would also touch "&copy" in a question.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and any(m.group(1) == user_id for m in _USER.finditer(text))


# --- in: a thread -> the conversation so far -------------------------------------------------
def is_own(message: dict[str, Any], bot_user_id: str | None, bot_id: str | None) -> bool:
    return bool(
        (bot_user_id and message.get("user") == bot_user_id)
        or (bot_id and message.get("bot_id") == bot_id)
    )


def thread_history(
    messages: list[dict[str, Any]],
    bot_user_id: str | None,
    bot_id: str | None,
    before_ts: str,
) -> list[Turn]:
    """The bot's earlier answers in a thread as turns, oldest first.

    Each answer's first message carries the turn in its metadata (questions, citations with
    untruncated quotes). Without it (stripped by a proxy, or posted by an older version) the
    turn is the question that preceded it and the answer's text, without citations.
    """
    turns: list[Turn] = []
    pending: str | None = None  # the last question from a person, not yet answered
    rebuilt: Turn | None = None  # a turn rebuilt from text, extended by continuation messages
    for msg in sorted(messages, key=lambda m: ts_key(m.get("ts", ""))):
        if ts_key(msg.get("ts", "")) >= ts_key(before_ts):
            break
        if is_own(msg, bot_user_id, bot_id):
            meta = msg.get("metadata") or {}
            payload = meta.get("event_payload") if meta.get("event_type") == ANSWER_EVENT else None
            if isinstance(payload, dict):
                turns.append(_turn_from_payload(payload, msg.get("text", ""), pending))
                pending, rebuilt = None, None
            elif pending is not None:
                rebuilt = Turn(pending, pending, plain_text(msg.get("text", "")), True, [])
                turns.append(rebuilt)
                pending = None
            elif rebuilt is not None:  # the rest of a long answer, split over messages
                rebuilt.answer += "\n" + plain_text(msg.get("text", ""))
        elif not msg.get("bot_id") and msg.get("subtype") in PERSON_SUBTYPES:
            pending = plain_text(msg.get("text", ""), bot_user_id) or None
            rebuilt = None
    return turns


def ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps ("1700000000.000100") in order; floats would round the microseconds."""
    seconds, _, micros = ts.partition(".")
    try:
        return int(seconds), int(micros or 0)
    except ValueError:
        return 0, 0


def _turn_from_payload(payload: dict[str, Any], text: str, pending: str | None) -> Turn:
    question = str(payload.get("question") or pending or "")
    citations = []
    for c in payload.get("citations") or []:
        if not isinstance(c, dict):
            continue
        citations.append(
            Citation(
                n=int(c.get("n", 0)),
                source=str(c.get("source", "")),
                title=str(c.get("title", "")),
                url=c.get("url") or None,
                published=c.get("published") or None,
                quote=str(c.get("quote", "")),
                start=int(c.get("start", 0)),
                end=int(c.get("end", 0)),
                doc_id=str(c.get("doc_id", "")),
            )
        )
    return Turn(
        question=question,
        standalone_question=str(payload.get("standalone_question") or question),
        answer=plain_text(text),
        answered=bool(payload.get("answered", True)),
        citations=citations,
    )


# --- out: an Answer -> Slack messages --------------------------------------------------------
def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only these three characters are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    # '|' and '>' end the URL part of a link; percent-encoding keeps the URL working.
    safe_url = url.replace("&", "&amp;").replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label.replace('|', '¦'))}>"


def short_quote(quote: str, limit: int = QUOTE_CHARS) -> str:
    quote = " ".join(quote.split())
    if len(quote) <= limit:
        return quote
    cut = quote[:limit].rsplit(" ", 1)[0]
    if len(cut) < limit // 2:  # one very long token (a URL): cut inside it instead
        cut = quote[:limit]
    return cut.rstrip(" ,;:") + "…"


def source_entry(group: list[Citation]) -> str:
    """One document's citations: `<url|title> — date` (or the file name when there is no
    URL), then each numbered quote as a block quote."""
    c = group[0]
    head = [link(c.url, c.title or c.url) if c.url else f"*{escape(c.title or c.source)}*"]
    if c.published:
        head.append(c.published)
    if not c.url and c.source and c.source != c.title:
        head.append(f"`{escape(c.source)}`")
    quotes = [f">*[{q.n}]* {escape(short_quote(q.quote))}" for q in group]
    return "\n".join([" — ".join(head), *quotes])


def source_groups(citations: list[Citation]) -> list[list[Citation]]:
    """Runs of citations from the same document, in citation order."""
    groups: list[list[Citation]] = []
    for c in citations:
        if groups and (groups[-1][0].source, groups[-1][0].title) == (c.source, c.title):
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


def split_text(text: str, limit: int = SECTION_CHARS) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at the last paragraph break, else line
    break, sentence end or space in the second half of the window; a word longer than the
    limit is cut where it must be."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = limit
        for floor in (limit // 2, 1):
            found = [
                window.rfind(sep) + keep
                for sep, keep in (("\n\n", 0), ("\n", 0), (". ", 1), (" ", 0))
                if window.rfind(sep) >= floor
            ]
            if found:
                cut = found[0]
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def pack_entries(entries: list[str], limit: int = SECTION_CHARS) -> list[str]:
    """Entries joined by newlines into pieces within ``limit``, never splitting an entry that
    fits on its own."""
    out: list[str] = []
    for entry in entries:
        for piece in split_text(entry, limit):
            if out and len(out[-1]) + 1 + len(piece) <= limit:
                out[-1] += "\n" + piece
            else:
                out.append(piece)
    return out


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@dataclass
class SlackMessage:
    text: str  # notification and screen-reader text
    blocks: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "blocks": self.blocks}
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out


def answer_metadata(answer: Answer) -> dict[str, Any]:
    """The turn, so a follow-up in the thread can be understood after a restart too."""
    cits = []
    for c in answer.citations[:META_CITATIONS]:
        d: dict[str, Any] = {
            "n": c.n,
            "source": c.source,
            "title": c.title,
            "quote": c.quote[:META_QUOTE_CHARS],
            "start": c.start,
            "end": c.end,
            "doc_id": c.doc_id,
        }
        # Slack's metadata values are strings, numbers and booleans: no nulls.
        if c.url:
            d["url"] = c.url
        if c.published:
            d["published"] = c.published
        cits.append(d)
    return {
        "event_type": ANSWER_EVENT,
        "event_payload": {
            "question": answer.question,
            "standalone_question": answer.standalone_question,
            "answered": answer.answered,
            "citations": cits,
        },
    }


def answer_messages(answer: Answer) -> list[SlackMessage]:
    """The answer with its markers, then the numbered sources, as one or more messages."""
    pieces = split_phrases(answer.answer, answer_phrases(answer.answer, answer.citations))
    # the answer phrase the reader marked in each quote, in bold
    body = "".join(f"*{escape(p)}*" if bold else escape(p) for p, bold in pieces)
    blocks: list[dict[str, Any]] = [_section(p) for p in split_text(body)]
    if answer.citations:
        blocks.append({"type": "divider"})
        listing = ["*Sources*"] + [source_entry(g) for g in source_groups(answer.citations)]
        blocks += [_section(p) for p in pack_entries(listing)]
    if answer.notices:
        note = escape("; ".join(answer.notices))[:CONTEXT_CHARS]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    messages = pack(blocks)
    messages[0].metadata = answer_metadata(answer)
    return messages


def notice_message(text: str) -> SlackMessage:
    """A short reply that is not an answer (an apology, a hint)."""
    safe = escape(text)[:SECTION_CHARS]
    return SlackMessage(text=safe, blocks=[_section(safe)])


def block_text(block: dict[str, Any]) -> str:
    if block.get("type") == "section":
        return str(block["text"]["text"])
    if block.get("type") == "context":
        return "\n".join(str(e.get("text", "")) for e in block.get("elements", []))
    return ""


def pack(blocks: list[dict[str, Any]]) -> list[SlackMessage]:
    """Blocks grouped into messages within the per-message block and character budgets."""
    groups: list[list[dict[str, Any]]] = [[]]
    size = 0
    for b in blocks:
        n = len(block_text(b))
        if groups[-1] and (len(groups[-1]) >= MESSAGE_BLOCKS or size + n > MESSAGE_CHARS):
            groups.append([])
            size = 0
        if not groups[-1] and b.get("type") == "divider":
            continue  # a message never starts with a rule
        groups[-1].append(b)
        size += n
    return [
        SlackMessage(
            text="\n\n".join(t for t in map(block_text, g) if t)[:MESSAGE_CHARS] or " ",
            blocks=g,
        )
        for g in groups
        if g
    ] or [SlackMessage(text=" ")]
