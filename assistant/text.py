"""Sentence spans and stemmed content terms: what answering and verification compare."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

# Words that say nothing about what a question is about.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t don ll ve re according said says say told tell week weeks
    recently recent latest new news year years month one two many much make made get got go
    going happen happened please know
    """.split()  # noqa: SIM905
)
QUESTION_WORDS = frozenset(
    ["what", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "does", "do"]
)

# Our citation markers, "[1]", "[1, 2]", "[1-3]": what answers carry and what a document's
# own brackets must never be mistaken for.
MARKER = re.compile(r"\[(\s*\d+(?:\s*[,;–-]\s*\d+)*\s*)\]")
# A reasoning model's scratchpad, closed or cut off.
THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)

_WORD = re.compile(r"[\w][\w'’-]*\w|\w", re.UNICODE)
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a likely start.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon|Inc|Ltd|Co|Corp|"
    r"vs|etc|No|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|U\.S|U\.K|U\.N|E\.U|a\.m|p\.m)\.$"
)
_INITIAL = re.compile(r"\b[A-Z]\.$")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    return str(_stemmer().stemWord(word))


def terms(text: str) -> list[str]:
    """Stemmed content words, in order, stop words dropped."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1 or w.isdigit()]


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text[start:end]``, trimmed of white space.

    Lines are hard boundaries (news text puts headlines, captions and paragraphs on their own
    lines); inside a line, a full stop after a known abbreviation or an initial is not an end.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for line in text[start:end].split("\n"):
        line_start = pos
        pos += len(line) + 1
        cut = 0
        for m in _BOUNDARY.finditer(line):
            head = line[cut : m.start()].rstrip("\"'”’)]")
            if _ABBREV.search(head) or _INITIAL.search(head):
                continue
            # closing quotes and brackets after the stop end this sentence, not the next
            closers = len(m.group()) - len(m.group().lstrip("\"'”’)]"))
            spans.append((line_start + cut, line_start + m.start() + closers))
            cut = m.end()
        spans.append((line_start + cut, line_start + len(line)))
    out = []
    for a, b in spans:
        seg = text[a:b]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg.rstrip())
        if trail > lead:
            out.append((a + lead, a + trail))
    return out


def question_entities(question: str) -> list[str]:
    """Names in a question (capitalised words not at its start, acronyms), lower-cased."""
    out = []
    toks = list(re.finditer(r"[A-Za-z][\w’'.-]*", question))
    for i, m in enumerate(toks):
        w = m.group().rstrip(".").replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        if len(w) < 2 or not w[0].isupper():
            continue
        if i == 0 or w.lower() in QUESTION_WORDS or w.lower() in STOPWORDS:
            continue
        out.append(w.lower())
    return list(dict.fromkeys(out))


def neutralise_markers(text: str) -> str:
    """Brackets in a document that look like our markers ("[7]", "[2, 9]") written as
    "(7)", "(2, 9)": text quoted from a document must never read as a citation of ours."""
    return MARKER.sub(lambda m: f"({m.group(1).strip()})", text)


def strip_markers(text: str) -> str:
    return re.sub(r"\s*" + MARKER.pattern, "", text)


def strip_thinking(text: str) -> str:
    return THINKING.sub("", text)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of the two term sets' union that both hold (0 when either is empty)."""
    return len(a & b) / len(a | b) if a and b else 0.0
