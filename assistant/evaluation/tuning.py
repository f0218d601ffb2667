"""Each tuned setting against its plain default, on weeks it was and was not chosen on.

For every tuned setting (a "knob") every value of a small grid is evaluated with the other
settings at their defaults, and scored on both parts of the time split (evaluation/split.py).
Then, in each direction (choose on the first two thirds of the weeks and check on the last
third; and the reverse):

- **choose**: the value with the best score on the choosing part; among values tied for the
  best, the plain default wins, then the current default, then the one nearest the plain
  default (no change without evidence).
- **check**: the chosen value must beat the plain default on the other part.

A knob is kept only when its forward choice holds in both directions; otherwise it goes back
to its plain default: a feature off, fusion weights equal, a constant at its textbook value.
Retrieval knobs are judged by MRR@10 (a knob may name answer-has-gold instead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.evaluation.runner import Benchmark, Question, QuestionResult, score
from assistant.evaluation.split import WeekSplit, parts

MRR, ANSWER = "mrr@10", "answer_contains_gold"
PARTS = ("first", "last")


@dataclass(frozen=True)
class Knob:
    group: str  # the settings group: retrieval, answer, index
    name: str
    plain: Any  # the value with no tuning
    grid: tuple[Any, ...]
    metric: str = MRR
    why_plain: str = ""


KNOBS: tuple[Knob, ...] = (
    Knob("retrieval", "bm25_weight", 1.0, (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0),
         why_plain="equal weights (dense_weight is 1)"),
    Knob("retrieval", "rrf_k", 60.0, (10.0, 20.0, 40.0, 60.0, 100.0),
         why_plain="the usual RRF constant"),
    Knob("retrieval", "date_window_boost", 0.0, (0.0, 0.5, 1.0, 1.5, 2.0, 3.0), why_plain="off"),
    Knob("retrieval", "recency_boost", 0.0, (0.0, 0.25, 0.5, 0.75, 1.0), why_plain="off"),
    Knob("retrieval", "recency_days", 30, (7, 14, 30, 60), why_plain="a month"),
    Knob("retrieval", "future_penalty", 0.0, (0.0, 0.5, 1.0), why_plain="off"),
    Knob("retrieval", "lead_boost", 0.0, (0.0, 0.05, 0.1, 0.2, 0.3, 0.5), why_plain="off"),
    Knob("retrieval", "doc_diversity", False, (False, True), why_plain="off"),
    Knob("retrieval", "dedupe_threshold", 1.0, (0.6, 0.8, 1.0), why_plain="off"),
    Knob("retrieval", "candidate_k", 40, (20, 40, 80), why_plain="the first version's"),
)  # fmt: skip
CHUNKING = Knob("index", "chunk_size", 200, (128, 200, 256), why_plain="the first version's")


@dataclass
class Direction:
    choose_on: str
    chosen: Any
    gain_choose: float  # chosen minus plain on the choosing part
    gain_check: float  # the same on the other part

    @property
    def holds(self) -> bool:
        return self.gain_check > 0


@dataclass
class Verdict:
    knob: Knob
    current: Any
    trials: dict[Any, dict[str, dict[str, float]]]  # value -> part -> metrics
    forward: Direction
    reverse: Direction

    @property
    def keep(self) -> bool:
        return self.forward.chosen != self.knob.plain and self.forward.holds and self.reverse.holds

    @property
    def value(self) -> Any:
        """What the default should be: the forward choice when it holds, else plain."""
        return self.forward.chosen if self.keep else self.knob.plain

    def chosen_on(self, part: str) -> Any:
        """The value tuning on ``part`` alone settles on: its choice when that holds on the
        other part (and the knob holds both ways), else plain."""
        d = self.forward if part == "first" else self.reverse
        keep = d.chosen != self.knob.plain and self.forward.holds and self.reverse.holds
        return d.chosen if keep else self.knob.plain


@dataclass
class Tuner:
    """Runs a knob's grid in-process on one Assistant (settings changed, then restored)."""

    assistant: Any
    bench: Benchmark
    questions: Sequence[Question]
    split: WeekSplit
    progress: Callable[[str], Any] | None = None
    _cache: dict[tuple[Any, ...], dict[str, dict[str, float]]] = field(default_factory=dict)

    def evaluate(self) -> list[QuestionResult]:
        return [self.bench.result(self.assistant, q) for q in self.questions]

    def by_part(self, results: list[QuestionResult]) -> dict[str, dict[str, float]]:
        split = parts(results, self.split)
        return {"first": score(split["first"]), "last": score(split["last"])}

    def trial(self, knob: Knob, value: Any) -> dict[str, dict[str, float]]:
        group = getattr(self.assistant.settings, knob.group)
        current = getattr(group, knob.name)
        # Every knob's current value is the same configuration: evaluated once.
        key = ("defaults",) if value == current else (knob.group, knob.name, value)
        if key not in self._cache:
            if self.progress:
                self.progress(f"{knob.name}={value}")
            setattr(group, knob.name, value)
            try:
                self._cache[key] = self.by_part(self.evaluate())
            finally:
                setattr(group, knob.name, current)
        return self._cache[key]

    def with_values(self, values: dict[tuple[str, str], Any]) -> dict[str, dict[str, float]]:
        """Both parts' scores with several settings changed at once (then restored)."""
        saved = {}
        for (group, name), value in values.items():
            g = getattr(self.assistant.settings, group)
            saved[(group, name)] = getattr(g, name)
            setattr(g, name, value)
        try:
            return self.by_part(self.evaluate())
        finally:
            for (group, name), value in saved.items():
                setattr(getattr(self.assistant.settings, group), name, value)

    def verdict(self, knob: Knob) -> Verdict:
        current = getattr(getattr(self.assistant.settings, knob.group), knob.name)
        trials = {v: self.trial(knob, v) for v in dict.fromkeys((*knob.grid, current))}
        return judge(knob, current, trials)


def judge(knob: Knob, current: Any, trials: dict[Any, dict[str, dict[str, float]]]) -> Verdict:
    """The choose-and-check rule (module docstring) on one knob's trials."""

    def direction(choose_on: str) -> Direction:
        check_on = "last" if choose_on == "first" else "first"
        chosen = choose(trials, choose_on, knob, current)
        plain = trials[knob.plain]
        return Direction(
            choose_on,
            chosen,
            trials[chosen][choose_on][knob.metric] - plain[choose_on][knob.metric],
            trials[chosen][check_on][knob.metric] - plain[check_on][knob.metric],
        )

    return Verdict(knob, current, trials, direction("first"), direction("last"))


def choose(
    trials: dict[Any, dict[str, dict[str, float]]], part: str, knob: Knob, current: Any
) -> Any:
    scores = {v: t[part][knob.metric] for v, t in trials.items()}
    best = max(scores.values())
    tied = [v for v, s in scores.items() if best - s < 1e-9]
    if knob.plain in tied:
        return knob.plain
    if current in tied:
        return current
    return min(tied, key=lambda v: abs(float(v) - float(knob.plain)))


def settings_chosen_on(verdicts: list[Verdict], part: str) -> dict[tuple[str, str], Any]:
    return {(v.knob.group, v.knob.name): v.chosen_on(part) for v in verdicts}


def directions_table(scores: dict[str, dict[str, dict[str, float]]]) -> str:
    """For the settings chosen on each part: the choosing part, the checking part, the gap."""
    rows = [
        "| settings chosen on | part | Hits@1 | MRR@10 | answer-has-gold |",
        "|---|---|---|---|---|",
    ]
    for choose_on, by_part in scores.items():
        check_on = "last" if choose_on == "first" else "first"
        label = "first 2/3 of the weeks" if choose_on == "first" else "last 1/3 of the weeks"
        for part, role in ((choose_on, "choose"), (check_on, "check")):
            m = by_part[part]
            rows.append(
                f"| {label} | {part} ({role}) "
                f"| {m['hits@1']:.3f} | {m[MRR]:.3f} | {m[ANSWER]:.3f} |"
            )
        gap = {k: by_part[check_on][k] - by_part[choose_on][k] for k in ("hits@1", MRR, ANSWER)}
        rows.append(
            f"| | check - choose | {gap['hits@1']:+.3f} | {gap[MRR]:+.3f} | {gap[ANSWER]:+.3f} |"
        )
    return "\n".join(rows)


def verdict_table(verdicts: list[Verdict]) -> str:
    """One row per knob: the plain and current defaults, each direction's choice and what it
    gains over plain on the part it was chosen on and on the other, and the verdict."""
    rows = [
        "| setting | plain | default | chosen on first: value, gain first / last "
        "| chosen on last: value, gain last / first | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        f, r = v.forward, v.reverse
        if v.keep:
            verdict = f"keep {_fmt(v.value)}"
        elif f.chosen == v.knob.plain:
            verdict = f"plain {_fmt(v.knob.plain)}: no value beats it on the first part"
        else:
            verdict = f"revert to {_fmt(v.knob.plain)}: the gain does not hold"
        if v.value != v.current:
            verdict += f" (default is {_fmt(v.current)})"
        rows.append(
            f"| {v.knob.name} ({_metric(v.knob)}) | {_fmt(v.knob.plain)} | {_fmt(v.current)} "
            f"| {_fmt(f.chosen)}: {f.gain_choose:+.3f} / {f.gain_check:+.3f} "
            f"| {_fmt(r.chosen)}: {r.gain_choose:+.3f} / {r.gain_check:+.3f} | {verdict} |"
        )
    return "\n".join(rows)


def grid_table(verdicts: list[Verdict]) -> str:
    """Every value tried: MRR@10, Hits@1 and answer-has-gold on each part."""
    rows = [
        "| setting = value | first: MRR@10 / Hits@1 / answer | last: MRR@10 / Hits@1 / answer |",
        "|---|---|---|",
    ]
    for v in verdicts:
        for value, t in v.trials.items():
            marks = ("plain " if value == v.knob.plain else "") + (
                "default" if value == v.current else ""
            )
            cells = " | ".join(
                f"{t[p][MRR]:.3f} / {t[p]['hits@1']:.3f} / {t[p][ANSWER]:.3f}" for p in PARTS
            )
            label = f"{v.knob.name} = {_fmt(value)}" + (f" ({marks.strip()})" if marks else "")
            rows.append(f"| {label} | {cells} |")
    return "\n".join(rows)


def _metric(knob: Knob) -> str:
    return "MRR@10" if knob.metric == MRR else "answer-has-gold"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
