"""The weekly-pool evaluation's arithmetic and the reader's training pairs, on records and
questions made here (the real data is read from ../shared only by the commands)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from assistant.evaluation.weekly import Record, choose_threshold, metrics, week_corpus
from assistant.evaluation.weekly_data import SPLITS, Article, WeeklyQuestion, answerable
from assistant.training.data import weekly_pairs


def rec(answered: bool, right: bool, best: float, removed: bool, removed_best: float) -> Record:
    return Record(
        "q",
        "20240705",
        "2024-07",
        "?",
        "gold",
        answered,
        right,
        12 if answered else 0,
        best,
        removed,
        removed_best,
        False,
        "",
        10.0,
        20.0,
    )


def test_the_figures_of_a_part() -> None:
    rs = [
        rec(True, True, 0.9, False, 0.1),
        rec(True, False, 0.6, True, 0.7),
        rec(False, False, 0.2, False, 0.1),
        rec(True, True, 0.8, True, 0.8),
    ]
    m = metrics(rs)
    assert m["answered"] == 0.75 and m["answer_has_gold"] == 0.5
    assert m["precision"] == pytest.approx(2 / 3) and m["refused_when_removed"] == 0.5
    # what a threshold of 0.75 would give, from the same records
    t = metrics(rs, 0.75)
    assert t["answered"] == 0.5 and t["answer_has_gold"] == 0.5 and t["precision"] == 1.0
    assert t["refused_when_removed"] == 0.75


def test_the_threshold_weighs_a_right_answer_and_a_right_refusal_alike() -> None:
    rs = [
        rec(True, True, 0.9, True, 0.3),
        rec(True, True, 0.7, True, 0.5),
        rec(True, False, 0.4, True, 0.6),
    ]
    t = choose_threshold(rs)
    m = metrics(rs, t)
    # above 0.6 every removed question is refused; above 0.7 a right answer is lost
    assert m["answer_has_gold"] == pytest.approx(2 / 3) and m["refused_when_removed"] == 1.0
    assert t == 0.7  # the highest of the thresholds that tie


def test_time_splits_never_mix_training_choosing_and_reported_months() -> None:
    fwd, rev = SPLITS["forward"], SPLITS["reverse"]
    assert fwd.part("2024-03") == "train" and fwd.part("2024-06") == "choose"
    assert fwd.part("2024-07") == "report" and fwd.part("2024-12") == "report"
    assert rev.part("2024-07") == "train" and rev.part("2024-12") == "choose"
    assert rev.part("2023-01") == "report" and rev.part("2024-06") == "report"


LANES = (
    "Port Quill council backs cycle lanes\n\n"
    "The town council voted 9 to 4 on Tuesday to build protected cycle lanes on Harbour Road.\n\n"
    "The lanes will cost 2.3 million euros, most of it paid by a regional grant.\n\n"
    "Shop owners feared losing parking spaces along the road.\n"
)


def question(gold: str, evidence: str = "") -> WeeklyQuestion:
    q = WeeklyQuestion(
        "20240705_1",
        "20240705",
        "2024-07-05",
        "How much will the Harbour Road cycle lanes cost?",
        gold,
        evidence,
    )
    q.articles = [Article("Cycle lanes", LANES, "https://example.org/lanes", "2024-07-01")]
    return q


def test_a_unit_with_the_gold_answer_is_a_positive_with_its_span_the_rest_negatives() -> None:
    q = question("2.3 million euros")
    assert answerable(q)
    pairs = list(weekly_pairs([q], random.Random(1)))
    pos = [p for p in pairs if p.label]
    assert [p.text for p in pos] == [
        "The lanes will cost 2.3 million euros, most of it paid by a regional grant."
    ]
    s, e = pos[0].span  # type: ignore[misc]
    assert pos[0].text[s:e] == "2.3 million euros"
    assert pos[0].before.startswith("The town council voted")
    negatives = {p.text for p in pairs if not p.label}
    assert "Shop owners feared losing parking spaces along the road." in negatives
    assert all("2.3 million" not in t for t in negatives)


def test_a_question_its_articles_do_not_answer_gives_negatives_but_not_its_paraphrase() -> None:
    q = question("4 million", evidence="The lanes will cost 2.3 million euros, the council said")
    assert not answerable(q)
    pairs = list(weekly_pairs([q], random.Random(1)))
    assert pairs and not any(p.label for p in pairs)
    # the unit much like the quiz's evidence may answer in other words: not a negative
    assert all("2.3 million" not in p.text for p in pairs)


def test_a_weeks_index_holds_each_article_once() -> None:
    a, b = question("2.3 million euros"), question("9 to 4")
    assert len(week_corpus([a, b])) == 1


def test_one_week_in_every_n_is_asked_and_a_cached_week_is_read_back(tmp_path: Path) -> None:
    import json
    from dataclasses import asdict, replace

    from assistant.evaluation.weekly import run_weekly
    from assistant.settings import Settings

    weeks = ["20240705", "20240712", "20240719", "20240726", "20240802"]
    questions = [
        WeeklyQuestion(f"q{w}", w, f"{w[:4]}-{w[4:6]}-{w[6:]}", "Who?", "gold", "") for w in weeks
    ]
    cache = tmp_path / "weekly.jsonl"
    cache.write_text(
        "".join(
            json.dumps(asdict(replace(rec(True, True, 0.9, False, 0.1), qid=f"q{w}", week=w)))
            + "\n"
            for w in weeks
        )
    )
    got = run_weekly(Settings(), questions, lambda m: True, cache=cache, every=2)
    # every week is cached, so nothing is indexed; the sample is the 1st, 3rd and 5th week
    assert [r.week for r in got] == ["20240705", "20240719", "20240802"]
