"""Time-split validation: does a score hold on weeks nobody tuned on?

A newsroom asks tomorrow's questions. Settings chosen on a benchmark's questions can fit those
weeks' stories rather than news questions in general, so every report splits the questions by
the week they were asked: the first two thirds of the weeks (where settings are chosen) and the
last third (where they are checked), printed side by side with the gap. Tuning runs both ways
(choose on the first part and check on the last, and the reverse): see evaluation/tuning.py.

For every question whose answer misses the gold answer, ``classify_miss`` says whose miss it
is: the answerer's (an article it read says the answer; it quoted other units or refused),
retrieval's (the gold article, which says it, was not among the articles the answerer read),
or the label's (the gold article never says the answer in those words).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

CHOOSE_SHARE = 2 / 3

# Why an answer lacks the gold answer, in the order they are tested.
MISS_KINDS = {
    "answering": "an article the answerer read says it; it quoted other units or refused",
    "ranking": "the gold article was not among the articles the answerer read",
    "label": "the gold article never says the gold answer in those words",
}


@dataclass(frozen=True)
class WeekSplit:
    """The weeks of a question set, in order, cut into a first and a last part."""

    first: tuple[str, ...]
    last: tuple[str, ...]

    def part(self, week: str) -> str:
        return "first" if week in self.first else "last"

    def header(self, part: str, n: int) -> str:
        weeks = self.first if part == "first" else self.last
        share = "first 2/3" if part == "first" else "last 1/3"
        span = weeks[0] if len(weeks) == 1 else f"{weeks[0]}..{weeks[-1]}"
        return f"{share}: {len(weeks)} weeks {span} ({n} q)"


def week_of(week: str | None, as_of: str | None) -> str:
    """A question's week: the dataset's own label, else the ISO week of the day it was asked."""
    if week:
        return str(week)
    if as_of:
        try:
            y, w, _ = date.fromisoformat(as_of).isocalendar()
            return f"{y}-W{w:02d}"
        except ValueError:
            pass
    return ""


def split_weeks(weeks: Iterable[str], share: float = CHOOSE_SHARE) -> WeekSplit | None:
    """The first ``share`` of the distinct weeks (rounded, at least one) and the rest, in week
    order; None when there are fewer than two weeks to split."""
    ordered = tuple(sorted({w for w in weeks if w}))
    if len(ordered) < 2:
        return None
    cut = min(max(1, round(len(ordered) * share)), len(ordered) - 1)
    return WeekSplit(ordered[:cut], ordered[cut:])


class _Scored(Protocol):
    @property
    def week(self) -> str: ...


T = TypeVar("T", bound=_Scored)


def parts(items: Sequence[T], split: WeekSplit) -> dict[str, list[T]]:
    """The items of each part, in their original order."""
    out: dict[str, list[T]] = {"first": [], "last": []}
    for item in items:
        out[split.part(item.week)].append(item)
    return out


def side_by_side(
    metrics: dict[str, dict[str, float]], counts: dict[str, int], split: WeekSplit
) -> str:
    """One row per metric: the first part, the last part, last minus first, and all."""
    names = list(metrics["all"])
    rows = [
        f"| metric | {split.header('first', counts['first'])} "
        f"| {split.header('last', counts['last'])} | last - first | all ({counts['all']} q) |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        first, last, every = (metrics[p][name] for p in ("first", "last", "all"))
        rows.append(f"| {name} | {first:.3f} | {last:.3f} | {last - first:+.3f} | {every:.3f} |")
    return "\n".join(rows)


def classify_miss(
    says_gold: Callable[[str], bool],
    read: dict[str, str],
    gold_docs: set[str],
    gold_texts: list[str],
) -> str:
    """Why an answer that lacks the gold answer lacks it (a key of MISS_KINDS).

    ``read`` holds the texts the answerer read (doc id -> text), ``says_gold(text)`` whether
    a text contains the gold answer, ``gold_texts`` the stored texts of the gold articles.
    """
    if any(says_gold(t) for t in read.values()):
        return "answering"
    if not gold_docs & set(read) and any(says_gold(t) for t in gold_texts):
        return "ranking"
    return "label"


def miss_table(
    misses: dict[str, dict[str, int]],
    counts: dict[str, int],
    columns: Sequence[str] = ("first", "last", "all"),
) -> str:
    """Misses of answer-has-gold by kind and part (counts of questions)."""
    rows = [
        f"| answer lacks the gold answer because | {' | '.join(columns)} |",
        "|---|" + "---|" * len(columns),
    ]
    for kind, why in MISS_KINDS.items():
        cells = " | ".join(str(misses[p].get(kind, 0)) for p in columns)
        rows.append(f"| {kind}: {why} | {cells} |")
    total = " | ".join(str(sum(misses[p].values())) for p in columns)
    rows.append(f"| all misses (of {counts['all']} questions) | {total} |")
    return "\n".join(rows)
