"""Turn scraped article text into the text we store and cite.

Scraped news carries the site around the article: share bars, newsletter pitches, syndication
disclaimers, ad lines. They pollute retrieval (every article from a site "matches" its footer)
and would be quoted as evidence, so whole lines that are plainly boilerplate are dropped. The
rules only ever remove entire lines and only when the line is short or matches a known template,
because deleting a real sentence from a news article is worse than keeping a stray footer.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clean_text", "html_to_text", "is_boilerplate_line", "title_from_text"]

TITLE_MAX_CHARS = 150

# Spaces that look like spaces but defeat tokenisers and exact-quote matching.
_SPACE_TRANSLATION = str.maketrans(
    {
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u3000": " ",
        "\u200b": None,
        "\ufeff": None,
        "\u2060": None,
    }
)

# Whole lines (case-insensitive, surrounding punctuation ignored) that are never article text.
_EXACT_LINES = re.compile(
    r"""^(?:
        source\s+links?
      | leave\s+a\s+(?:reply|comment)
      | (?:\d+\s+)?comments?
      | post\s+a\s+comment
      | share(?:\s+this)?(?:\s+(?:article|story|post|page))?(?:\s+on\s+\w+)?
      | (?:click\s+to\s+)?(?:share|print|email|tweet)(?:\s+this)?
      | advertisement | advertising | sponsored(?:\s+content)? | ad
      | story\s+continues\s+below(?:\s+(?:this\s+)?advertisement)?
      | scroll\s+(?:down\s+)?to\s+continue(?:\s+with\s+content)?
      | continue\s+reading(?:\s+below)?
      | read\s+more(?:\s+here)?
      | read\s+the\s+full\s+(?:story|article)(?:\s+here)?
      | view\s+in\s+full\s+here
      | related(?:\s+(?:articles?|stories|story|coverage|content|posts|links|reading|news))?
      | you\s+may\s+also\s+like | recommended(?:\s+for\s+you)? | trending(?:\s+now)?
      | more\s+(?:stories|news|articles)(?:\s+like\s+this)?
      | skip\s+to\s+(?:main\s+)?content
      | loading(?:\s*\.\.\.)?
      | (?:accept|reject)(?:\s+all)?(?:\s+cookies)?
      | how\s+relevant\s+is\s+this\s+ad\s+to\s+you
      | back\s+to\s+top
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# Share bars: a line made only of social network / action names.
_SHARE_WORD = (
    r"(?:facebook|twitter|x|linkedin|whatsapp|telegram|reddit|pinterest|email|print"
    r"|copy\s+link|messenger|flipboard|share)"
)
_SHARE_BAR = re.compile(rf"^{_SHARE_WORD}(?:[\s|,/•·]+{_SHARE_WORD})+$", re.IGNORECASE)

# Patterns that identify a boilerplate line wherever they occur in it, each specific enough that
# an article sentence containing it is implausible, with the most words such a line may have.
_MARKER_SPECS: list[tuple[str, int]] = [
    # Mirage.News syndication disclaimer: "/Public Release. This material ... View in full here."
    (r"^/?public\s+release\.", 120),
    (r"this\s+material\s+from\s+the\s+originating\s+organi[sz]ation", 120),
    (r"does\s+not\s+take\s+institutional\s+positions", 120),
    (r"\ball\s+rights\s+reserved\b", 30),
    (r"^(?:copyright\s*)?(?:©|\(c\))\s*(?:copyright\s*)?\d{4}", 30),
    (r"^copyright\s+\d{4}\b", 30),
    (r"\b(?:we|this\s+(?:web)?site)\s+uses?\s+cookies\b", 60),
    (r"^by\s+(?:continuing|using)\b.{0,60}\b(?:site|website)\b.*\bcookies\b", 60),
    (r"\b(?:sign\s+up|subscribe)\b.*\b(?:newsletter|inbox)\b", 40),
    (r"\b(?:newsletter|inbox)\b.*\b(?:sign\s+up|subscribe)\b", 40),
    (r"^click\s+here\b", 20),
    (r"^(?:follow|like)\s+us\s+on\s+(?:facebook|twitter|instagram|x|linkedin)\b", 20),
    (r"^read\s+more\s*:", 25),
    # CNN's ad-feedback widget, scraped along with the page.
    (r"^video\s+player\s+was\s+slow\s+to\s+load\s+content\b", 60),
]
_MARKERS = [(re.compile(spec, re.IGNORECASE), words) for spec, words in _MARKER_SPECS]

_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _looks_like_ad(line: str) -> bool:
    """A short exclaiming line in Title Case: "HealthyLine Products For Natural Gemstone Therapy!".

    Real sentences lower-case most of their words; a quoted exclamation starts with a quote mark.
    """
    if not line.endswith("!") or line[0] in "\"“'‘«(":
        return False
    words = _WORD.findall(line)
    if not 3 <= len(words) <= 10 or len(line.split()) > 10:
        return False
    capitalised = sum(1 for w in words if w[0].isupper())
    return capitalised / len(words) >= 0.75


def is_boilerplate_line(line: str) -> bool:
    """Whether one line (of a scraped article) is site furniture rather than article text."""
    stripped = line.strip()
    if not stripped:
        return False
    # Ignore list numbering and decoration around the words ("1. How relevant is this ad...").
    core = re.sub(r"^\d{1,2}[.)]\s+", "", stripped).strip(" \t.:;!?-–—|>»›•·*#()[]")
    if core and _EXACT_LINES.match(core):
        return True
    if _SHARE_BAR.match(core):
        return True
    words = len(stripped.split())
    for pattern, max_words in _MARKERS:
        if words <= max_words and pattern.search(stripped):
            return True
    return _looks_like_ad(stripped)


def _is_label_after_title(title: str, line: str) -> bool:
    # Scraped pages often repeat a section tag ("NATO") under the headline. Only a single word
    # that already occurs in the headline is dropped, so a real one-word paragraph stays.
    word = line.strip()
    if not word or " " in word or len(word) > 30 or not word.isalpha():
        return False
    return word.casefold() in {w.casefold() for w in _WORD.findall(title)}


def clean_text(text: str) -> str:
    """Normalise whitespace and drop boilerplate lines; the result is the final stored text.

    Newlines become ``\\n``; non-breaking and other odd spaces become plain spaces (zero-width
    ones are removed); trailing spaces go; boilerplate lines go; runs of blank lines collapse to
    one blank line; the whole text is stripped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACE_TRANSLATION)
    lines = [line.rstrip() for line in text.split("\n")]
    kept = [line for line in lines if not is_boilerplate_line(line)]
    content = [i for i, line in enumerate(kept) if line.strip()]
    if len(content) >= 3 and _is_label_after_title(kept[content[0]], kept[content[1]]):
        del kept[content[1]]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


# Elements that hold site furniture (menus, banners, widgets), never the article itself.
_FURNITURE_TAGS = "script, style, noscript, nav, header, footer, aside, form, iframe, svg, template"
_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
     "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "tr", "caption", "figure",
     "figcaption", "hr", "address", "details", "summary"}
)  # fmt: skip


def html_to_text(node: Any) -> str:
    """Readable text of a parsed selectolax HTML element, to be passed on to ``clean_text``.

    Furniture elements are removed from the tree (in place); block elements are separated by a
    blank line and ``<br>`` by a newline, and whitespace inside a block collapses to one space
    as a browser renders it. Iterative, so pathologically deep nesting can't overflow the stack.
    """
    if node is None:
        return ""
    for furniture in node.css(_FURNITURE_TAGS):
        furniture.decompose()
    parts: list[str] = []
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, leaving = stack.pop()
        tag = current.tag
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")
            if leaving:
                continue
            stack.append((current, True))
        elif tag == "-text":
            parts.append(re.sub(r"\s+", " ", current.text_content or ""))
            continue
        elif tag == "br":
            parts.append("\n")
            continue
        stack.extend((child, False) for child in reversed(list(current.iter(include_text=True))))
    lines = (line.strip() for line in "".join(parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def title_from_text(text: str) -> str:
    """First real line of the text, shortened; skips a bare dateline like "Washington CNN —"."""
    lines = [line.strip().lstrip("#").strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    for i, line in enumerate(lines[:3]):
        if i + 1 < len(lines) and len(line.split()) <= 6 and re.search(r"[—–-]$", line):
            continue
        if len(line) <= TITLE_MAX_CHARS:
            return line
        cut = line[:TITLE_MAX_CHARS].rsplit(" ", 1)[0]
        return cut.rstrip(",;:") + "…"
    return ""
