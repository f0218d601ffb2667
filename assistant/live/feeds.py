"""RSS and Atom documents (feedparser) into entries the intake can ingest.

feedparser is lenient by design: a feed with a stray bad character still yields its items, and
those are taken (with a warning shown as the feed's last error). A document that is not a feed
at all, or so broken that no item can be read, is an error.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assistant.errors import FetchFailed
from assistant.index.cleaning import clean_text, html_to_text

# Feed content this long is taken as the article itself; shorter content is a summary, and the
# article behind the item's link is fetched instead.
FULL_TEXT_WORDS = 150
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


@dataclass
class Entry:
    """One item of a feed, as the feed describes it."""

    key: str  # guid/id, else link, else a hash of the item: stable across polls
    hash: str  # of everything the item says: a change means the story was updated
    link: str
    title: str
    published: str | None  # ISO date
    authors: list[str] = field(default_factory=list)
    summary: str = ""  # plain text
    content: str = ""  # plain text of the full content, when the feed carries it

    @property
    def full_text(self) -> bool:
        """Whether the feed carries the article itself (else it is behind ``link``)."""
        return len(self.content.split()) >= FULL_TEXT_WORDS or (
            not self.link and bool(self.content)
        )


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    warning: str = ""  # the feed was read leniently: what was wrong with it


def _text(html: str) -> str:
    if not html.strip():
        return ""
    if "<" not in html:
        return clean_text(html)
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(f"<div>{html}</div>")
    return clean_text(html_to_text(tree.body))


def _date(entry: Any) -> str | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, name)  # FeedParserDict.get maps "updated" with a warning
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC).date().isoformat()
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _authors(entry: Any) -> list[str]:
    names = [a.get("name", "").strip() for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and isinstance(entry.get("author"), str) and entry["author"].strip():
        names = [entry["author"].strip()]
    return list(dict.fromkeys(names))


def _entry(raw: Any) -> Entry | None:
    link = str(raw.get("link") or "").strip()
    title = " ".join(str(raw.get("title") or "").split())
    summary = _text(str(raw.get("summary") or ""))
    parts = [c.get("value", "") for c in raw.get("content") or [] if isinstance(c, dict)]
    content = _text("\n".join(p for p in parts if p))
    if content == summary:
        content = "" if len(content.split()) < FULL_TEXT_WORDS else content
    if not link and not content and not summary:
        return None  # nothing to ingest and nowhere to fetch it from
    published = _date(raw)
    authors = _authors(raw)
    said = [title, link, summary, content, published, authors, str(dict.get(raw, "updated") or "")]
    digest = hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()
    key = str(raw.get("id") or "").strip() or link or digest
    return Entry(key, digest, link, title, published, authors, summary, content)


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """The entries of an RSS or Atom document fetched from ``url`` (relative links resolve
    against it). Raises ``FetchFailed`` when it is not a feed or no item can be read."""
    import feedparser

    # A stream, never a string: feedparser fetches a string that looks like a URL by itself.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": url, "content-type": content_type or "text/xml"},
    )
    problem = ""
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        line = getattr(exc, "getLineNumber", lambda: None)()
        problem = f"{getattr(exc, 'getMessage', lambda: str(exc))()}" + (
            f" at line {line}" if line else ""
        )
    entries = [e for e in map(_entry, parsed.get("entries") or []) if e is not None]
    if not parsed.get("version") and not entries:
        got = f" (got {content_type})" if content_type else ""
        raise FetchFailed(f"not an RSS or Atom feed{got}" + (f": {problem}" if problem else ""))
    if problem and not entries:
        raise FetchFailed(f"not a valid feed (invalid XML: {problem})")
    warning = f"not well-formed ({problem}); read leniently" if problem else ""
    title = " ".join(str(parsed.get("feed", {}).get("title") or "").split())
    return ParsedFeed(title, entries, warning)
