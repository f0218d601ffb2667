"""What a question asks for: its type (who, when, where, how many, what), the thing it names
as the answer's kind ("which *country*"), and the constraints an answer must meet (the names,
years and numbers it mentions)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.text import STOPWORDS, question_entities, stem, terms, words

PERSON_NOUNS = frozenset(
    [
        "person",
        "man",
        "woman",
        "celebrity",
        "star",
        "singer",
        "actor",
        "actress",
        "official",
        "member",
        "player",
        "athlete",
        "leader",
        "president",
        "minister",
        "senator",
        "lawmaker",
        "politician",
        "judge",
        "ceo",
        "founder",
        "executive",
        "author",
        "rapper",
        "musician",
        "comedian",
        "coach",
        "director",
        "host",
        "anchor",
        "chief",
        "head",
        "governor",
        "mayor",
        "candidate",
        "nominee",
        "billionaire",
        "investor",
        "personality",
        "artist",
        "model",
    ]
)
PLACE_NOUNS = frozenset(
    [
        "country",
        "countries",
        "nation",
        "state",
        "states",
        "city",
        "cities",
        "continent",
        "region",
        "area",
        "island",
        "park",
        "county",
        "town",
        "village",
        "place",
        "province",
        "territory",
        "capital",
        "location",
        "site",
        "border",
        "neighborhood",
        "airport",
        "resort",
        "destination",
    ]
)
QUANTITY_NOUNS = frozenset(
    [
        "percentage",
        "percent",
        "number",
        "amount",
        "price",
        "cost",
        "figure",
        "total",
        "rate",
        "sum",
        "magnitude",
        "share",
        "age",
        "size",
        "score",
    ]
)
DATE_NOUNS = frozenset(["year", "date", "day", "month", "time", "week", "season", "decade"])
# Words that end the noun phrase after "which"/"what" (verbs and function words).
_VERBISH = frozenset(
    [
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "did",
        "does",
        "do",
        "will",
        "would",
        "could",
        "should",
        "can",
        "has",
        "have",
        "had",
        "may",
        "might",
        "won",
        "wins",
        "lost",
        "made",
        "make",
        "makes",
        "took",
        "take",
        "gave",
        "give",
        "became",
        "become",
        "said",
        "says",
        "got",
        "get",
        "began",
        "met",
        "meets",
        "sent",
        "ran",
        "hit",
        "held",
        "fell",
        "rose",
        "left",
        "led",
        "sold",
        "bought",
        "paid",
        "struck",
        "saw",
        "found",
    ]
)

_WH = re.compile(
    r"\b(how (?:many|much|long|old|far|soon|big|large|high)|who|whom|whose|when|where|why|"
    r"which|what|how)\b",
    re.IGNORECASE,
)
_CHOICE = re.compile(r"(?i)^(\w+) of (?:the )?(?:following|these|those)\s+")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\d[\d,.]*")


@dataclass
class Frame:
    """One question, analysed."""

    text: str
    ask: str  # the sentence of the question that holds the question word
    wh: str  # "who", "which", "how many", ... ("" when none is found)
    qtype: str  # person | date | place | quantity | entity | reason | what
    focus: str | None  # "country" in "which country ..."
    terms: list[str]
    entities: list[str]
    years: list[str]
    numbers: list[str]
    list_like: bool  # asks for several things ("what support", "which two countries")
    speech: bool  # asks what someone said ("what did Stoltenberg say about China")
    term_set: frozenset[str] = field(default_factory=frozenset)


def _ask_sentence(question: str) -> str:
    """The sentence that asks: the last one with a question word or a question mark."""
    parts = [p for p in re.split(r"(?<=[.?!])\s+(?=[A-Z“\"])", question.strip()) if p]
    for p in reversed(parts):
        if _WH.search(p):
            return p
    return parts[-1] if parts else question


def _focus(ask: str, at: int) -> str | None:
    """The head noun after "which"/"what": the last word before a verb or function word,
    within three words ("which wildly popular show was" -> "show")."""
    # "Which of the following US cities saw ...": the choice words stand between the question
    # word and what it asks for.
    rest = _CHOICE.sub(r"\1 ", ask[at:])
    toks = re.findall(r"[A-Za-z][\w'’-]*", rest)[1:5]
    span: list[str] = []
    for t in toks:
        lw = t.lower()
        if lw in _VERBISH or (lw in STOPWORDS and lw not in ("two", "three")):
            break
        if lw.endswith("ed") and span:
            break
        span.append(lw)
    span = [w for w in span if not w.endswith("ly")]
    return span[-1] if span else None


@lru_cache(maxsize=2048)
def analyse(question: str) -> Frame:
    ask = _ask_sentence(question)
    m = _WH.search(ask)
    wh = m.group(1).lower() if m else ""
    focus = _focus(ask, m.start()) if m and wh in ("which", "what") else None
    of = re.match(r"(?i)^what (?:is|was|are|were) the (\w+) of\b", ask[m.start() :] if m else "")
    if focus is None and of:
        focus = of.group(1).lower()  # "what was the magnitude of the quake"
    qtype = "what"
    if wh.startswith("how "):
        qtype = "date" if wh == "how soon" else "quantity"
    elif wh == "when":
        qtype = "date"
    elif wh == "where":
        qtype = "place"
    elif wh in ("who", "whom", "whose"):
        qtype = "person"
    elif wh == "why":
        qtype = "reason"
    elif wh in ("which", "what") and focus:
        f = focus.rstrip("s") if focus not in ("states",) else "state"
        if focus in PERSON_NOUNS or f in PERSON_NOUNS:
            qtype = "person"
        elif focus in PLACE_NOUNS or f in PLACE_NOUNS:
            qtype = "place"
        elif focus in QUANTITY_NOUNS:
            qtype = "quantity"
        elif focus in DATE_NOUNS:
            qtype = "date"
        else:
            # "Which show ...", "which automaker ...": a name; "what support ...", "what
            # special announcement ...": a description.
            qtype = "entity" if wh == "which" else "what"
    lower = ask.lower()
    list_like = bool(
        re.search(
            r"\b(?:which|what) (?:two|three|four|kinds?|types?|ways?|steps|measures)\b", lower
        )
        or re.search(r"\bwhat (?:\w+ )?(?:support|help|aid|measures|steps|changes)\b", lower)
    )
    t = terms(question)
    return Frame(
        text=question,
        ask=ask,
        wh=wh,
        qtype=qtype,
        focus=focus,
        terms=t,
        entities=question_entities(question),
        years=_YEAR.findall(question),
        numbers=[n.rstrip(".,") for n in _NUMBER.findall(question)],
        list_like=list_like,
        speech=bool(re.search(r"\b(?:say|said|says|tell|told|think|thinks|warn|warned)\b", lower)),
        term_set=frozenset(t),
    )


def focus_stem(frame: Frame) -> str | None:
    return stem(frame.focus) if frame.focus else None


def surface_words(question: str) -> list[str]:
    return words(question)
