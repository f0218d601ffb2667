"""Generated news corpora: many distinct, deterministic articles for scale and crash tests."""

from __future__ import annotations

import random
from pathlib import Path

_TOWNS = [
    "Ashford", "Brackley", "Corwen", "Dunmore", "Elgin", "Fenwick", "Glenrothes", "Hexham",
    "Ilkley", "Jedburgh", "Kelso", "Ludlow", "Malton", "Nairn", "Oban", "Penrith", "Quorn",
    "Ripon", "Selby", "Tenby", "Ulverston", "Ventnor", "Whitby", "Yarm", "Zennor",
]  # fmt: skip
_TOPICS = [
    ("bridge", "engineers", "repairs"), ("library", "readers", "opening hours"),
    ("harbour", "fishermen", "quotas"), ("school", "teachers", "budgets"),
    ("hospital", "nurses", "waiting lists"), ("railway", "commuters", "timetables"),
    ("market", "traders", "rents"), ("park", "residents", "trees"),
]  # fmt: skip
_VERBS = ["said", "warned", "announced", "confirmed", "argued", "noted", "reported", "added"]
_WORD_LINES = (
    "council plan vote spending review county plans local groups meeting week month year",
    "funding proposal report officials decision public support concerns project weather",
    "storm flood roads traffic services families workers visitors season costs prices",
)
_WORDS = " ".join(_WORD_LINES).split()


def article(i: int, paragraphs: int = 12) -> tuple[str, str]:
    """(file name, text) of article ``i``: a headline, a dated lead, then ``paragraphs``
    paragraphs of plausible sentences that name its own town and topic."""
    rng = random.Random(i)
    town = _TOWNS[i % len(_TOWNS)]
    place, people, issue = _TOPICS[i % len(_TOPICS)]
    code = f"{town}-{i:04d}"
    title = f"{town} {place} dispute over {issue} (case {code})"
    day = 1 + i % 28
    lines = [title, "", f"Published on 2023-05-{day:02d}.", ""]
    lines.append(
        f"The {place} in {town} was at the centre of a row over {issue} on Monday, "
        f"officials {rng.choice(_VERBS)}; the case is filed as {code}."
    )
    for p in range(paragraphs):
        sentences = []
        for _ in range(4):
            words = " ".join(rng.choice(_WORDS) for _ in range(12))
            sentences.append(
                f"{people.capitalize()} in {town} {rng.choice(_VERBS)} that the {words} "
                f"would shape paragraph {p} of the {place} story"
            )
        lines.append(". ".join(sentences) + ".")
        lines.append("")
    return f"{i:03d}_{town.lower()}.txt", "\n".join(lines)


def write_corpus(folder: Path, n: int, paragraphs: int = 12) -> list[str]:
    """Write ``n`` articles into ``folder``; returns their file names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        name, text = article(i, paragraphs)
        (folder / name).write_text(text, encoding="utf-8")
        names.append(name)
    return names
