"""The refusal that says what the documents do mention and what they do not.

"The documents do not contain an answer to this question. They mention NATO but not who will
host the next NATO summit." A reporter learns whether to search further or rephrase: the
topic is there, the fact asked for is not.
"""

from __future__ import annotations

import re

from assistant.answer.question import Frame
from assistant.text import STOPWORDS, stem

NO_ANSWER = "The documents do not contain an answer to this question."

_IRREGULAR = {
    "be": "was", "become": "became", "begin": "began", "break": "broke", "bring": "brought",
    "build": "built", "buy": "bought", "choose": "chose", "come": "came", "do": "did",
    "eat": "ate", "fall": "fell", "find": "found", "fly": "flew", "get": "got", "give": "gave",
    "go": "went", "grow": "grew", "have": "had", "hold": "held", "keep": "kept", "know": "knew",
    "lead": "led", "leave": "left", "lose": "lost", "make": "made", "meet": "met", "pay": "paid",
    "put": "put", "rise": "rose", "run": "ran", "say": "said", "see": "saw", "sell": "sold",
    "send": "sent", "set": "set", "sing": "sang", "sit": "sat", "speak": "spoke",
    "spend": "spent", "stand": "stood", "steal": "stole", "strike": "struck", "take": "took",
    "teach": "taught", "tell": "told", "think": "thought", "throw": "threw", "win": "won",
    "write": "wrote",
}  # fmt: skip
_PRONOUNS = {"he", "she", "it", "they", "we", "you", "i"}
_MOVABLE = {"will", "can", "could", "would", "should"}
_BASE_VERBS = {
    "be", "have", "open", "close", "start", "begin", "end", "finish", "cost", "pay", "take",
    "happen", "get", "make", "go", "come", "become", "win", "lose", "leave", "arrive", "return",
    "run", "rise", "fall", "vote", "meet", "decide", "change", "move", "stop", "reopen",
}  # fmt: skip
_AFTER_VERB = {
    "on", "in", "at", "for", "to", "from", "by", "with", "after", "before", "until", "again",
    "next", "this", "each", "per", "be", "about", "over", "under", "into",
}  # fmt: skip


def _past(verb: str) -> str:
    v = verb.lower()
    if v in _IRREGULAR:
        return _IRREGULAR[v]
    if v.endswith("e"):
        return v + "d"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ied"
    return v + "ed"


def _third(verb: str) -> str:
    v = verb.lower()
    if v == "have":
        return "has"
    if re.search(r"(?:s|sh|ch|x|z|o)$", v):
        return v + "es"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ies"
    return v + "s"


_WH_HEAD = r"(?:how \w+|what|which|whose|who|whom|when|where|why)(?: [\w-]+){0,3}?"
_MODAL = r"is|are|was|were|will|can|could|would|should|has|have|had"
_DETERMINERS = {
    "the", "a", "an", "this", "that", "these", "those", "his", "her", "its", "their", "many",
    "some", "most", "all", "few", "several", "people",
}  # fmt: skip


def indirect(ask: str) -> str | None:
    """ "When did Finland join NATO?" -> "when Finland joined NATO"; None when unsure."""
    q = ask.strip().rstrip("?").strip()
    if not re.match(r"(?i)^(?:how|what|which|whose|who|whom|when|where|why)\b", q):
        return None
    m = re.match(rf"(?i)^({_WH_HEAD}) (did|does|do) (.+)$", q)
    if m:
        return _deinvert(m.group(1), m.group(2).lower(), m.group(3).split())
    m = re.match(rf"(?i)^({_WH_HEAD}) ({_MODAL}) (\S+)", q)
    if m:
        nxt = m.group(3)
        if nxt.lower() in _DETERMINERS:
            # "When will the lanes open" -> "when the lanes will open": the subject runs to a
            # verb the question ends with (a short list: unsure otherwise).
            toks = q[m.end(2) :].split()
            at = next(
                (
                    i
                    for i, t in enumerate(toks[1:4], 1)
                    if t.lower() in _BASE_VERBS
                    # a verb ends the question or meets a preposition: "return" in "an adult
                    # return ferry ticket" is a noun
                    and (i + 1 == len(toks) or toks[i + 1].lower() in _AFTER_VERB)
                ),
                None,
            )
            if at is not None and m.group(2).lower() in _MOVABLE:
                head = m.group(1)[0].lower() + m.group(1)[1:]
                return " ".join([head, *toks[:at], m.group(2).lower(), *toks[at:]])
            return None
        # "When will it be ...", "Where is Mar-a-Lago ...": subject after the verb -> unsure.
        if nxt.lower() in _PRONOUNS or nxt[:1].isupper():
            return None
    # "Who will host ...", "Which team won ...": already in statement order.
    return q[0].lower() + q[1:]


def _deinvert(head: str, aux: str, toks: list[str]) -> str | None:
    # The subject: a pronoun, or a run of capitalised words ("Joey Chestnut"), then the verb.
    n = 0
    if toks and toks[0].lower() in _PRONOUNS:
        n = 1
    else:
        while n < len(toks) and n < 5 and toks[n][:1].isupper():
            n += 1
    if n == 0 or n >= len(toks) or not toks[n].isalpha() or not toks[n].islower():
        return None
    verb = toks[n]
    if aux == "did":
        verb = _past(verb)
    elif aux == "does":
        verb = _third(verb)
    return " ".join([head[0].lower() + head[1:], *toks[:n], verb, *toks[n + 1 :]])


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _surface_terms(question: str) -> list[tuple[str, bool]]:
    """The question's content words as written, each once, with whether it is a name
    (capitalised, not at the start of a sentence)."""
    out: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for m in re.finditer(r"[A-Za-z][\w'’-]*", question):
        bare = re.sub(r"['’]s$", "", m.group())
        low = bare.lower()
        if low in STOPWORDS or len(low) < 3 or stem(low) in seen:
            continue
        seen.add(stem(low))
        starts = not question[: m.start()].strip() or question[: m.start()].rstrip()[-1] in ".?!:"
        out.append((bare, bare[:1].isupper() and not starts))
    return out


def surface(question: str, name: str) -> str:
    """How the question writes a (lower-cased) name: "lgbtq" -> "LGBTQ"."""
    m = re.search(r"\b" + re.escape(name) + r"\b", question.replace("’", "'"), re.IGNORECASE)
    return m.group() if m else name.title()


def explain(
    frame: Frame,
    scope: str,
    missing_names: list[str] | None = None,
    closest: tuple[str, str | None, str] | None = None,
) -> str:
    """The refusal for ``frame`` given the lower-cased text the answerer looked at; with
    ``closest`` (title, date and lower-cased text of the document whose passage came closest
    to answering) the refusal names that document and what it does mention."""
    words = _surface_terms(frame.text)
    found = [(w, name) for w, name in words if re.search(r"\b" + re.escape(stem(w.lower())), scope)]
    names = [w for w, name in found if name]
    shown = names[:3] or [w for w, _name in found][:3]
    if missing_names:
        missing = [surface(frame.text, m) for m in missing_names]
        if shown:
            return f"{NO_ANSWER} They mention {_join(shown)} but not {_join(missing)}."
        return f"{NO_ANSWER} None of the retrieved passages mention {_join(missing)}."
    what = indirect(frame.ask)
    ask = what if what else f"the answer to “{frame.ask.strip()}”"
    if not shown:
        absent = [w for w, _name in words if (w, _name) not in found][:3]
        if absent:
            return f"{NO_ANSWER} Nothing retrieved mentions {_join(absent)}."
        return f"{NO_ANSWER} The closest passages do not address it."
    if closest is not None and closest[0]:
        title, published, text = closest
        near = [w for w, name in found if re.search(r"\b" + re.escape(stem(w.lower())), text)]
        near = [w for w, name in found if name and w in near][:3] or near[:3]
        if near:
            when = f" ({published})" if published else ""
            return (
                f"{NO_ANSWER} The closest passage, in “{title}”{when}, mentions {_join(near)} "
                f"but not {ask}."
            )
    return f"{NO_ANSWER} They mention {_join(shown)} but not {ask}."
