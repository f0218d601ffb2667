"""``overlap``: an in-process stand-in for the trained reader, for fast tests.

A unit's probability is the share of the question's content terms (stemmed, stop words
dropped) that the unit, the sentence before it and its title hold, the unit's own words
counting double; the answer phrase is the unit's first number or capitalised run the
question does not use. Deterministic and instant; it knows nothing of meaning, so a test of
what the trained reader understands (a paraphrase, "how much" against a vote count) belongs in
tests/integration with the real model.

It is registered through the real registry, as a third-party backend would be::

    import tests.support.fake_reader  # registers "overlap"
    Settings(reader="overlap")
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.reader import Reading, Unit, register_reader
from assistant.settings import Settings
from assistant.text import terms

NAME = "overlap"
THRESHOLD = 0.5
_PHRASE = re.compile(
    r"\d[\d,.]*(?: (?:million|billion|percent|euros|dollars))?|(?:[A-Z][\w'-]+ ?)+"
)


class OverlapReader:
    name = NAME

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self.calls: list[tuple[str, int]] = []  # (question, units read) per call

    def read(self, question: str, units: Sequence[Unit]) -> list[Reading]:
        self.calls.append((question, len(units)))
        asked = set(terms(question))
        out = []
        for u in units:
            own = set(terms(u.text))
            near = set(terms(u.before)) | set(terms(u.title))
            got = sum(2 for t in asked if t in own) + sum(1 for t in asked if t in near - own)
            prob = got / (2 * len(asked)) if asked else 0.0
            span = None
            for m in _PHRASE.finditer(u.text):
                if not set(terms(m.group())) <= asked and m.start() > 0:
                    span = (m.start(), m.end() - (1 if m.group().endswith(" ") else 0))
                    break
            out.append(Reading(min(prob, 1.0), span))
        return out


def _make(settings: Settings) -> OverlapReader:
    t = settings.answer.reader_threshold
    return OverlapReader(THRESHOLD if t is None else t)


register_reader(NAME, _make, "word overlap with the question (tests only)")
