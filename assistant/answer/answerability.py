"""Does this passage answer *this* question, not merely share its words?

Two small linear models, trained on realtimeqa's dev questions by
``python -m assistant.evaluation.answer_training`` and shipped as JSON coefficients (read with
numpy: nothing is unpickled and scikit-learn is not needed at run time):

- the *unit* model ranks a question's candidate units (sentences, whole quotations) by how
  likely each is to hold the answer: its coverage of the question's terms and names, whether
  it carries the kind of thing asked for (a number for "how many", a date for "when", a name
  not already in the question for "which ..."), and where it sits (document rank, lead);
- the *judge* decides whether the best unit answers at all, from that unit's score and its
  document's coverage of the question, and its embedding similarity to the question.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer.question import Frame
from assistant.text import STOPWORDS, stem, terms, words

MODEL_FILE = Path(__file__).with_name("answerability.json")

NUMBER_WORDS = frozenset(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "hundreds",
        "thousand",
        "thousands",
        "million",
        "millions",
        "billion",
        "billions",
        "trillion",
        "dozen",
        "dozens",
        "half",
        "quarter",
    ]
)
DATE_WORDS = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "today",
        "tomorrow",
        "yesterday",
        "tonight",
        "weekend",
        "spring",
        "summer",
        "fall",
        "autumn",
        "winter",
    ]
)
# Words that place what a question asks about rather than say what it is ("the *next* summit").
MODIFIERS = frozenset(
    stem(w)
    for w in [
        "next",
        "last",
        "first",
        "second",
        "third",
        "previous",
        "upcoming",
        "former",
        "current",
    ]
)
NAMED = frozenset({"person", "place", "entity"})
REASON_WORDS = frozenset(["because", "due", "after", "amid", "since", "caused", "over"])
_DATE_PHRASE = re.compile(
    r"\b(?:next|last|this|later this|early next|earlier this)\s+(?:week|month|year|season|"
    r"spring|summer|fall|winter)\b|\b(?:1[89]|20)\d\d\b|\bin \d+ (?:days|weeks|months|years)\b",
    re.IGNORECASE,
)
_NUM = re.compile(r"(?:[$€£]\s?)?\d[\d,.]*(?:\s?(?:%|percent|million|billion|trillion))?")
_MONEY = re.compile(r"[$€£]\s?\d|\d\s?(?:%|percent)\b|\b\d[\d,.]*\s(?:million|billion|trillion)")
_CAP = re.compile(r"[A-Z][\w'’.&-]*")
_QUOTED_TITLE = re.compile(r"[“\"]([A-Z][^”\"]{1,60})[”\"]")
_PLACE_PREP = re.compile(r"\b(?:in|at|near|from|to|across|outside)\s+(?:the\s+)?([A-Z][\w'’-]+)")
_PERSON = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|President|Prime Minister|Sen|Rep|Gov|Secretary|Chancellor|King|Queen|"
    r"Prince|Princess|Pope)\.?\s+[A-Z]|\b[A-Z][a-z]+(?:\s[A-Z]\.)?\s[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")

UNIT_FEATURES = [
    "cov",
    "cov_ctx",
    "cov_doc",
    "cov_title",
    "ent_unit",
    "ent_doc",
    "bigram",
    "cov_rel",
    "doc_prior",
    "hit_rel",
    "type_match",
    "novel_caps",
    "novel_num",
    "novelty",
    "lead",
    "position",
    "log_words",
    "is_quote",
    "opens_quote",
    "year_ok",
    "year_conflict",
    "focus_ctx",
    "echo",
    "in_hit",
    "rare_ctx",
    "rare_doc",
    "date_fit",
    "content_ctx",
]
JUDGE_FEATURES = [
    "top",
    "gap",
    "cov_doc",
    "cov_ctx",
    "dense",
    "ent_doc",
    "rare_ctx",
    "rare_doc",
    "date_fit",
    "type_match",
    "content_ctx",
]


@dataclass
class Context:
    """What the scorer knows of one candidate unit besides its words."""

    unit: str
    before: str  # the citable units just before and after it in its document
    after: str
    doc: str  # the document's stored text (a passage's text when that is all there is)
    title: str
    doc_rank: int  # 1 = the best retrieved document
    hit_rel: float  # its document's best retrieval score over the best document's
    index: int  # its position among its document's citable units
    kind: str
    in_hit: bool  # inside a chunk that retrieval returned
    # 1 when its document is dated inside the time the question names ("this week"), fading
    # to 0 outside it; 1 when the question names no time
    date_fit: float = 1.0


def _cover(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values()) or 1.0
    return sum(w for t, w in weights.items() if t in present) / total


def _bigrams(ts: list[str]) -> set[tuple[str, str]]:
    return set(zip(ts, ts[1:], strict=False))


def mentions(text: str, entity: str) -> bool:
    """Whether lower-cased ``text`` has the name, or a word starting with its stem
    ("Ukraine" -> "ukrain" finds "Ukrainian")."""
    if re.search(r"\b" + re.escape(entity) + r"\b", text):
        return True
    stems = terms(entity)
    return not stems or re.search(r"\b" + re.escape(stems[0]), text) is not None


def novel_caps(frame: Frame, text: str) -> list[str]:
    """Capitalised words of ``text`` that the question does not use; a sentence's first word
    counts only when it starts a name (another capitalised word follows)."""
    out = []
    for m in _CAP.finditer(text):
        w = m.group().rstrip(".'’")
        lw = w.lower()
        if lw in STOPWORDS or len(w) < 2:
            continue
        at_start = not text[: m.start()].strip(' “"‘(')
        if at_start and not re.match(r" [A-Z]", text[m.end() : m.end() + 2]):
            continue
        if stem(lw) in frame.term_set:
            continue
        out.append(w)
    return out


def novel_numbers(frame: Frame, text: str) -> list[str]:
    nums = [n.strip() for n in _NUM.findall(text)]
    nums += [w for w in words(text) if w in NUMBER_WORDS]
    asked = set(frame.numbers)
    return [n for n in nums if n.rstrip(".,%") not in asked]


def _known(frame: Frame, text: str) -> bool:
    ts = terms(text)
    return bool(ts) and all(t in frame.term_set for t in ts)


def type_match(frame: Frame, text: str, caps: list[str], nums: list[str]) -> float:
    """How plainly ``text`` carries the kind of thing the question asks for (0..1)."""
    q = frame.qtype
    lw = set(words(text))
    if q == "quantity":
        if _MONEY.search(text) and ("much" in frame.wh or frame.focus in ("price", "cost")):
            return 1.0
        return 1.0 if nums else 0.0
    if q == "date":
        return 1.0 if lw & DATE_WORDS or _DATE_PHRASE.search(text) else 0.0
    if q == "place":
        places = [p for p in _PLACE_PREP.findall(text) if stem(p.lower()) not in frame.term_set]
        return 1.0 if places else (0.5 if caps else 0.0)
    if q == "person":
        people = [m.group() for m in _PERSON.finditer(text) if not _known(frame, m.group())]
        return 1.0 if people else (0.4 if caps else 0.0)
    if q == "entity":
        titles = [t for t in _QUOTED_TITLE.findall(text) if not _known(frame, t)]
        return 1.0 if titles or caps else (0.3 if nums else 0.0)
    if q == "reason":
        return 1.0 if lw & REASON_WORDS else 0.3
    if frame.speech:
        # What someone said: their words, quoted or reported.
        return 1.0 if re.search(r"[“\"]|\b(?:said|says|told|added|warned)\b", text) else 0.2
    if frame.focus and stem(frame.focus) in set(terms(text)):
        return 1.0  # "what support ...": a unit that speaks of support
    return 0.5 if caps or nums else 0.2


def lacks_asked_type(frame: Frame, texts: list[str]) -> bool:
    """A "when" question with no date, a "how many" question with no number, in ``texts``
    (a unit and its neighbours): whatever they say, they do not answer it."""
    if frame.qtype not in ("date", "quantity"):
        return False
    joined = " ".join(texts)
    caps = novel_caps(frame, joined)
    return type_match(frame, joined, caps, novel_numbers(frame, joined)) == 0.0


@lru_cache(maxsize=256)
def _term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def unit_features(frame: Frame, weights: dict[str, float], ctx: Context) -> list[float]:
    """The UNIT_FEATURES of one candidate (``cov_rel`` is filled in by ``relative``)."""
    u_terms = terms(ctx.unit)
    u_set = set(u_terms)
    ctx_set = u_set | _term_set(ctx.before) | _term_set(ctx.after)
    doc_set = set(_term_set(ctx.doc) | _term_set(ctx.title))
    ents = frame.entities
    low_unit = ctx.unit.lower().replace("’", "'")
    low_doc = _lower_doc(ctx.doc, ctx.title)
    ent_unit = sum(1 for e in ents if mentions(low_unit, e)) / len(ents) if ents else 1.0
    ent_doc = sum(1 for e in ents if mentions(low_doc, e)) / len(ents) if ents else 1.0
    qb = _bigrams(frame.terms)
    caps = novel_caps(frame, ctx.unit)
    nums = novel_numbers(frame, ctx.unit)
    years = set(_YEAR.findall(" ".join((ctx.unit, ctx.before, ctx.after))))
    focus = stem(frame.focus) if frame.focus else None
    rare = dict(sorted(weights.items(), key=lambda kv: -kv[1])[:3])
    # What the question says about its names ("host", "summit" in "who will host the next
    # NATO summit"): a unit that has the names but none of this is about something else.
    named = {t for e in ents for t in terms(e)} | MODIFIERS
    content = {t: w for t, w in weights.items() if t not in named and t != focus}
    return [
        _cover(weights, u_set),
        _cover(weights, ctx_set),
        _cover(weights, doc_set),
        _cover(weights, set(_term_set(ctx.title))),
        ent_unit,
        ent_doc,
        len(qb & _bigrams(u_terms)) / len(qb) if qb else 0.0,
        0.0,  # cov_rel
        1.0 / math.sqrt(max(ctx.doc_rank, 1)),
        ctx.hit_rel,
        type_match(frame, ctx.unit, caps, nums),
        # New names matter when a name is asked for, new numbers when a quantity or a date
        # is: "what did Stoltenberg say about China" is not answered by a list of countries.
        min(len(caps), 5) / 5 if frame.qtype in NAMED else 0.0,
        1.0 if nums and frame.qtype in ("quantity", "date") else 0.0,
        len(u_set - frame.term_set) / len(u_set) if u_set else 0.0,
        1.0 if ctx.index < 3 else 0.0,
        math.log1p(ctx.index),
        math.log1p(len(words(ctx.unit))),
        1.0 if ctx.kind == "quote" else 0.0,
        1.0 if ctx.unit.lstrip()[:1] in '“"‘' else 0.0,
        1.0 if frame.years and set(frame.years) & years else 0.0,
        1.0 if frame.years and years and not set(frame.years) & years else 0.0,
        1.0 if focus and focus in ctx_set else 0.0,
        1.0 if u_set and u_set <= frame.term_set else 0.0,
        1.0 if ctx.in_hit else 0.0,
        _cover(rare, ctx_set),
        _cover(rare, doc_set),
        ctx.date_fit,
        _cover(content, ctx_set) if content else 1.0,
    ]


@lru_cache(maxsize=256)
def _lower_doc(doc: str, title: str) -> str:
    return (doc + "\n" + title).lower().replace("’", "'")


def relative(rows: np.ndarray) -> np.ndarray:
    """Fill in the features that compare a unit with the question's other candidates."""
    if len(rows):
        c = UNIT_FEATURES.index("cov")
        rows[:, UNIT_FEATURES.index("cov_rel")] = rows[:, c] - rows[:, c].max()
    return rows


def judge_features(rows: np.ndarray, scores: np.ndarray, dense: float) -> list[float]:
    """The JUDGE_FEATURES of a question's best unit (``rows``/``scores`` of all candidates)."""
    order = np.argsort(-scores, kind="stable")
    b = int(order[0])
    second = float(scores[order[1]]) if len(order) > 1 else float(scores[b]) - 5.0
    f = {n: float(rows[b, i]) for i, n in enumerate(UNIT_FEATURES)}
    return [
        float(scores[b]),
        float(scores[b]) - second,
        f["cov_doc"],
        f["cov_ctx"],
        dense,
        f["ent_doc"],
        f["rare_ctx"],
        f["rare_doc"],
        f["date_fit"],
        f["type_match"],
        f["content_ctx"],
    ]


@dataclass(frozen=True)
class Linear:
    """Standardise, then a logistic regression's decision function."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_dict(cls, d: dict[str, Any], expected: list[str]) -> Linear:
        names = tuple(str(n) for n in d["names"])
        if list(names) != expected:
            raise ValueError(f"model features {list(names)} do not match this code's {expected}")
        arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(names),) or not np.all(np.isfinite(a)) for a in arrays):
            raise ValueError("model arrays must be finite and one value per feature")
        return cls(names, arrays[0], arrays[1], arrays[2], float(d["intercept"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": [round(float(x), 6) for x in self.mean],
            "scale": [round(float(x), 6) for x in self.scale],
            "coef": [round(float(x), 6) for x in self.coef],
            "intercept": round(self.intercept, 6),
        }

    def __call__(self, x: np.ndarray) -> np.ndarray:
        scale = np.where(self.scale > 0, self.scale, 1.0)
        return np.asarray(((x - self.mean) / scale) @ self.coef + self.intercept)


@dataclass(frozen=True)
class Model:
    unit: Linear
    judge: Linear
    threshold: float  # the judge's score at or above which a question counts as answered
    meta: dict[str, Any]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Model:
        return cls(
            unit=Linear.from_dict(d["unit"], UNIT_FEATURES),
            judge=Linear.from_dict(d["judge"], JUDGE_FEATURES),
            threshold=float(d["threshold"]),
            meta=dict(d.get("meta") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit.to_dict(),
            "judge": self.judge.to_dict(),
            "threshold": round(self.threshold, 4),
            "meta": self.meta,
        }


@lru_cache(maxsize=4)
def load_model(path: Path | None = None) -> Model:
    """The model at ``path`` (default: the one shipped in the package)."""
    p = path or MODEL_FILE
    try:
        return Model.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"answerability model {p} is unusable: {exc}") from None
