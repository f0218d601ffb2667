"""A fetched web page into one news ``Source``: the article's text and its metadata.

trafilatura finds the main text (navigation, ads, comments, "related stories" and footers are
left out) and the metadata: title, author, publication date, canonical URL and site name. The
extracted text then goes through the same ``clean_text`` as every file, so citation offsets
work the same way.

The address the page was fetched from (after redirects, tracking parameters removed) names
the document: its source id and the citation's link. So two links to one story (tracking
parameters, a feed's redirector) still become one document, but what the page says about
itself (its canonical link) is only a claim, kept in ``claimed_canonical``: a reader's comment
page or any page on a shared host claiming a story's address would otherwise replace that
story and be cited under its link.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from assistant.errors import FetchFailed
from assistant.index.cleaning import clean_text
from assistant.index.dates import date_from_url, normalise_date
from assistant.index.readers import doc_id_for
from assistant.types import Source

MIN_WORDS = 8  # fewer is a menu or an error page, not an article
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_HTML_TYPES = ("text/html", "application/xhtml+xml", "")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
# Query parameters that only say where a click came from; they split one story into many URLs.
_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|igshid|ocid|cmpid|at_medium|"
    r"at_campaign|ns_source|ns_mchannel|ns_campaign|rss|ref_src)$",
    re.IGNORECASE,
)


@dataclass
class Article:
    url: str  # where it was fetched from: the document's source id and the citation's link
    text: str
    title: str
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    site: str = ""
    fetched_url: str = ""
    claimed_canonical: str = ""  # the canonical link the page gave, when not its own address

    @property
    def doc_id(self) -> str:
        return doc_id_for(self.url)

    def source(self, **extra: Any) -> Source:
        dating = "metadata" if self.published else None
        published = self.published
        if not published:
            published = date_from_url(self.url)
            dating = "url" if published else None
        return Source(
            doc_id=self.doc_id,
            source=self.url,
            text=self.text,
            title=self.title,
            url=self.url,
            published=published,
            authors=list(self.authors),
            extra={
                "format": "web",
                "date_inferred": dating not in (None, "metadata"),
                "date_source": dating,
                "site": self.site,
                **({"claimed_url": self.claimed_canonical} if self.claimed_canonical else {}),
                **extra,
            },
        )


def strip_tracking(url: str) -> str:
    """``url`` without its fragment and click-tracking query parameters."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def same_site(a: str, b: str) -> bool:
    """Whether two URLs are on one site: the same host (``www.`` aside), or the same
    registrable domain (news.example.co.uk and www.example.co.uk, not evil.co.uk)."""
    from courlan.urlutils import extract_domain

    ha = (urlsplit(a).hostname or "").removeprefix("www.")
    hb = (urlsplit(b).hostname or "").removeprefix("www.")
    if not ha or not hb:
        return False
    if ha == hb:
        return True
    da, db = extract_domain(a), extract_domain(b)
    return bool(da) and da == db


def canonical_url(claimed: str | None, fetched: str) -> tuple[str, str]:
    """The URL that names the page, and the claim that was refused ("" if none was)."""
    fetched = strip_tracking(fetched)
    if not claimed:
        return fetched, ""
    claimed = claimed.strip()
    if urlsplit(claimed).scheme.lower() not in ("http", "https") or not same_site(claimed, fetched):
        return fetched, claimed
    return strip_tracking(claimed), ""


def _authors(value: str | None) -> list[str]:
    if not value:
        return []
    names = re.split(r"\s*(?:;|\band\b|&)\s*", re.sub(r"(?i)^\s*by\s+", "", value))
    return list(dict.fromkeys(n.strip() for n in names if n.strip()))


def text_hash(text: str) -> str:
    """Identity of an article's words, whatever URL it came from (syndicated copies)."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()


def check_page_type(content_type: str) -> None:
    feed = content_type in _FEED_TYPES or content_type.endswith(("+xml", "/xml"))
    if feed and content_type != "application/xhtml+xml":
        raise FetchFailed(
            f"this is a feed ({content_type}), not an article: follow it with "
            "`assistant feeds add URL`",
            status=422,
        )
    if content_type not in _HTML_TYPES and not content_type.startswith("text/"):
        raise FetchFailed(f"not a web page ({content_type}); download it and ingest the file")


def extract_article(body: bytes, fetched_url: str, content_type: str = "") -> Article:
    """The article in the HTML ``body`` fetched from ``fetched_url``; raises ``FetchFailed``
    when the page holds no article text."""
    check_page_type(content_type)
    if content_type.startswith("text/plain"):
        text = clean_text(body.decode("utf-8", "replace"))
        if not text:
            raise FetchFailed("the page is empty")
        url, _ = canonical_url(None, fetched_url)
        return Article(url, text, text.split("\n", 1)[0][:200], fetched_url=fetched_url)
    import trafilatura

    doc = trafilatura.bare_extraction(
        body,
        url=fetched_url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
        date_extraction_params={"extensive_search": True, "original_date": True},
    )
    meta: dict[str, Any] = (
        doc if isinstance(doc, dict) else doc.as_dict() if doc is not None else {}
    )
    # One paragraph a line in trafilatura's text; blank lines between them, as in every file.
    text = clean_text((meta.get("text") or "").replace("\n", "\n\n"))
    if len(text.split()) < MIN_WORDS:
        # A menu or a cookie wall is all some pages show without a browser.
        raise FetchFailed(f"no article text found on the page ({len(text.split())} words)")
    # trafilatura falls back on the address it was given when the page names no canonical URL.
    url, _ = canonical_url(None, fetched_url)
    claimed = str(meta.get("url") or "").strip()
    refused = (
        claimed if claimed and claimed != fetched_url and strip_tracking(claimed) != url else ""
    )
    title = " ".join(str(meta.get("title") or "").split()) or text.split("\n", 1)[0][:200]
    return Article(
        url=url,
        text=text,
        title=title,
        authors=_authors(meta.get("author")),
        published=normalise_date(str(meta["date"])) if meta.get("date") else None,
        site=str(meta.get("sitename") or meta.get("hostname") or ""),
        fetched_url=fetched_url,
        claimed_canonical=refused,
    )
