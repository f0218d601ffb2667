"""Time-split validation: the week partition, why answers miss, and the choose-on-one-part,
check-on-the-other rule for tuned settings (the per-part report with the real model is in
tests/integration/test_time_split_runs.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.evaluation.runner import Benchmark, load_questions, says_gold
from assistant.evaluation.split import (
    classify_miss,
    parts,
    split_weeks,
    week_of,
)
from assistant.evaluation.tuning import (
    MRR,
    Knob,
    Tuner,
    choose,
    judge,
    settings_chosen_on,
    verdict_table,
)
from tests.support.tinyqa import weekly_assistant

FRIDAYS = [(6, 17), (6, 24), (7, 1), (7, 8), (7, 15), (7, 22), (7, 29), (8, 5), (8, 12), (8, 19),
           (8, 26)]  # fmt: skip
WEEKS = [f"2022{m:02d}{d:02d}" for m, d in FRIDAYS]


# --- the partition --------------------------------------------------------------------------------
def test_two_thirds_of_the_weeks_then_the_rest_whatever_the_order() -> None:
    shuffled = WEEKS * 3
    random.Random(7).shuffle(shuffled)
    split = split_weeks(shuffled)
    assert split is not None
    assert split.first == tuple(WEEKS[:7]) and split.last == tuple(WEEKS[7:])
    assert split_weeks(list(reversed(WEEKS))) == split  # deterministic
    assert split.part("20220729") == "first" and split.part("20220805") == "last"


@pytest.mark.parametrize(
    ("n", "first"), [(2, 1), (3, 2), (4, 3), (5, 3), (6, 4), (9, 6), (12, 8)]
)  # fmt: skip
def test_the_cut_keeps_both_parts_non_empty(n: int, first: int) -> None:
    split = split_weeks(WEEKS[:n] if n <= len(WEEKS) else [f"w{i:02d}" for i in range(n)])
    assert split is not None
    assert len(split.first) == first and len(split.last) == n - first


def test_one_week_or_none_is_not_split() -> None:
    assert split_weeks(["20220617", "20220617", ""]) is None
    assert split_weeks([]) is None


def test_a_question_without_a_week_label_takes_the_iso_week_of_its_date() -> None:
    assert week_of("20220617", "2022-06-16") == "20220617"
    assert week_of(None, "2022-06-16") == "2022-W24"
    assert week_of("", "2022-06-20") == "2022-W25"
    assert week_of(None, None) == "" and week_of(None, "not a date") == ""


def test_parts_keep_order_and_cover_everything() -> None:
    class Row:
        def __init__(self, qid: str, week: str) -> None:
            self.qid, self.week = qid, week

    rows = [Row(str(i), WEEKS[i % len(WEEKS)]) for i in range(30)]
    split = split_weeks(r.week for r in rows)
    assert split is not None
    got = parts(rows, split)
    assert [r.qid for r in got["first"]] == [r.qid for r in rows if r.week in WEEKS[:7]]
    assert len(got["first"]) + len(got["last"]) == len(rows)


# --- why an answer misses ----------------------------------------------------------------------
def test_a_miss_is_the_answerers_retrievals_or_the_labels() -> None:
    says = says_gold("“Thor: Love and Thunder”")
    gold_text = "New York —\n\nThe God of Thunder still has some pop. Thor: Love and Thunder led."
    # An article the answerer read says it: the answerer chose other units.
    read = {"other": "Box office: thor: love and thunder made $143 million"}
    assert classify_miss(says, read, {"gold"}, [gold_text]) == "answering"
    assert classify_miss(says, {"gold": gold_text}, {"gold"}, [gold_text]) == "answering"
    # The gold article, which says it, was not read at all.
    assert classify_miss(says, {"other": "nothing"}, {"gold"}, [gold_text]) == "ranking"
    # The gold article never says it in those words, read or not.
    never = "The God of Thunder led the box office."
    assert classify_miss(says, {"gold": never}, {"gold"}, [never]) == "label"
    assert classify_miss(says, {"other": "nothing"}, {"gold"}, [never]) == "label"
    assert classify_miss(says, {"other": "nothing"}, set(), []) == "label"  # gold not indexed


# --- choose on one part, check on the other -------------------------------------------------------
def trials(**by_value: tuple[float, float]) -> dict[object, dict[str, dict[str, float]]]:
    """value name -> (first-part MRR, last-part MRR); names 'v0_5' mean 0.5."""
    out: dict[object, dict[str, dict[str, float]]] = {}
    for name, (first, last) in by_value.items():
        value = float(name[1:].replace("_", "."))
        out[value] = {"first": {MRR: first}, "last": {MRR: last}}
    return out


KNOB = Knob("retrieval", "lead_boost", 0.0, (0.0, 0.1, 0.3))


def test_a_gain_that_holds_both_ways_is_kept() -> None:
    t = trials(v0=(0.90, 0.88), v0_1=(0.93, 0.91), v0_3=(0.92, 0.92))
    v = judge(KNOB, 0.1, t)
    assert v.forward.chosen == 0.1 and v.forward.gain_check == pytest.approx(0.03)
    assert v.reverse.chosen == 0.3 and v.reverse.gain_check == pytest.approx(0.02)
    assert v.keep and v.value == 0.1
    assert v.chosen_on("first") == 0.1 and v.chosen_on("last") == 0.3


def test_a_gain_only_on_the_weeks_it_was_chosen_on_reverts_to_plain() -> None:
    # Best on the first part, but no better than plain on the last: fitted those weeks.
    t = trials(v0=(0.90, 0.88), v0_1=(0.95, 0.87), v0_3=(0.91, 0.88))
    v = judge(KNOB, 0.1, t)
    assert v.forward.chosen == 0.1 and not v.forward.holds
    assert not v.keep and v.value == 0.0
    assert "revert to 0" in verdict_table([v]) and "(default is 0.1)" in verdict_table([v])
    # Holding one way only is not enough either.
    t = trials(v0=(0.90, 0.88), v0_1=(0.95, 0.90), v0_3=(0.89, 0.93))
    v = judge(KNOB, 0.1, t)
    assert v.forward.holds and v.reverse.chosen == 0.3 and not v.reverse.holds
    assert not v.keep and v.chosen_on("first") == 0.0 and v.chosen_on("last") == 0.0


def test_ties_go_to_plain_then_the_current_default_then_the_nearest_to_plain() -> None:
    assert choose(trials(v0=(0.9, 0), v0_1=(0.9, 0)), "first", KNOB, 0.1) == 0.0
    assert choose(trials(v0=(0.8, 0), v0_1=(0.9, 0), v0_3=(0.9, 0)), "first", KNOB, 0.3) == 0.3
    assert choose(trials(v0=(0.8, 0), v0_1=(0.9, 0), v0_3=(0.9, 0)), "first", KNOB, 0.0) == 0.1
    v = judge(KNOB, 0.0, trials(v0=(0.9, 0.9), v0_1=(0.9, 0.95)))
    assert v.forward.chosen == 0.0 and not v.keep  # nothing beats plain where it is chosen
    assert "no value beats it" in verdict_table([v])
    assert settings_chosen_on([v], "first") == {("retrieval", "lead_boost"): 0.0}


# --- the tuner on a small benchmark spanning weeks ------------------------------------------------
@pytest.fixture(scope="module")
def weekly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, Path]:
    return weekly_assistant(tmp_path_factory.mktemp("weekly"))


def test_the_tuner_scores_each_value_on_both_parts_and_restores_the_settings(
    weekly: tuple[Assistant, Path],
) -> None:
    a, data = weekly
    questions = load_questions(data / "dev.jsonl")
    split = split_weeks(q.week for q in questions)
    assert split is not None
    tuner = Tuner(a, Benchmark(data, questions), questions, split)
    knob = Knob("retrieval", "lead_boost", 0.0, (0.0, 0.3))
    before = a.settings.retrieval.lead_boost
    v = tuner.verdict(knob)
    assert a.settings.retrieval.lead_boost == before
    assert set(v.trials) == {0.0, 0.3, before}
    assert all(set(t) == {"first", "last"} for t in v.trials.values())
    assert v.trials[0.3]["first"][MRR] == 1.0  # every tiny question finds its article first
    # Nothing beats plain on this easy set: the knob stays plain, in both directions.
    assert v.forward.chosen == 0.0 and v.reverse.chosen == 0.0 and not v.keep
    both = tuner.with_values({("retrieval", "lead_boost"): 0.3, ("retrieval", "rrf_k"): 10.0})
    assert both["first"][MRR] == 1.0 and a.settings.retrieval.rrf_k == 60.0
