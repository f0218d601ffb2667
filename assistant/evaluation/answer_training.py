"""Train the answerability model shipped in ``assistant/answer/answerability.json``.

    pip install -e '.[train]'
    python -m assistant.evaluation.answer_training [DATASET] [--train-weeks first|last|all]

Labelled pairs come from the dev split only (never heldout): for each question, the units the
answerer would consider in the four contexts of ``answer_runs`` (retrieved, gold-removed, five
passages with and without the gold one). A unit is positive when it holds the gold
``answer_text`` (and the question does not); the rest of the gold article and other articles'
units are negatives; another article's unit holding the answer in a gold-removed context is
left out (it may really answer). The judge learns, per context, whether the best unit answers:
positive when the gold answer was there to find, negative when no document the answerer saw
holds it.

By default the model is fitted on the first two thirds of dev's weeks and its threshold is the
lowest that refuses 80% of the answer-less contexts in leave-one-week-out predictions on those
weeks, so the last third of the weeks stays an honest check; ``--train-weeks last`` fits on the
last third (the reverse check). Fixed seeds: the same data gives the same JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer.answerability import (
    JUDGE_FEATURES,
    MODEL_FILE,
    UNIT_FEATURES,
    Linear,
    Model,
    judge_features,
)
from assistant.evaluation.answer_runs import (
    ABSENT_RUNS,
    as_of,
    contexts,
    load_benchmark,
    week_halves,
)
from assistant.evaluation.runner import _QUOTES, _norm, eval_index_dir, resolve_dataset

SEED = 0
# A unit is chosen for what it says itself: its neighbours' coverage of the question informs
# the judge (is this document about it?) but does not pick the sentence that answers first.
NOT_FOR_UNITS = frozenset({"cov_ctx", "rare_ctx"})
C = 0.3
REFUSAL_FLOOR = 0.8
RELEVANT = 0.3  # a unit holding the answer is a positive when it covers at least this share
# of what the best-covering unit of its context covers


@dataclass
class Group:
    """One question in one context: its candidates' features and labels."""

    qid: str
    week: str
    run: str
    rows: np.ndarray
    labels: np.ndarray  # 1 answers, 0 does not, -1 unknown (left out)
    texts: list[str]
    question: str
    vectors: dict[int, float]  # unit index -> embedding similarity with the question

    @property
    def judge_label(self) -> int | None:
        has = bool((self.labels != 0).any())
        if self.run in ABSENT_RUNS:
            return None if has else 0
        return 1 if has else None


def collect(assistant: Any, dataset: Path) -> list[Group]:
    bench = load_benchmark(assistant, dataset)
    answerer = assistant.answerer
    groups: list[Group] = []
    for q in bench.questions:
        gold_answer = _norm(q.answer_text.strip().strip(_QUOTES).strip())
        asked = bool(gold_answer) and gold_answer in _norm(q.question)
        gold = set(bench.gold[q.qid])
        for run, ctx in contexts(assistant, bench, q).items():
            pool, rows = answerer.featurise(q.question, ctx.hits, ctx.texts, as_of=as_of(q))
            near = rows[:, UNIT_FEATURES.index("cov")] if len(pool) else np.zeros(0)
            labels = []
            for i, c in enumerate(pool):
                holds = bool(gold_answer) and not asked and gold_answer in _norm(c.text)
                in_gold = c.doc_id.split("#")[0] in gold
                if not holds:
                    labels.append(0)
                elif run in ABSENT_RUNS and not in_gold:
                    labels.append(-1)
                elif near[i] >= RELEVANT * near.max():
                    labels.append(1)
                else:
                    # Names the answer in passing ("Bed Bath & Beyond told CNN ..."), far from
                    # what the question asks: neither a good answer nor a wrong one.
                    labels.append(-1)
            groups.append(
                Group(
                    q.qid, bench.weeks.get(q.qid, ""), run, rows, np.array(labels, dtype=int),
                    [c.text for c in pool], q.question, {},
                )
            )  # fmt: skip
    return groups


def _fit_linear(
    x: np.ndarray, y: np.ndarray, names: list[str], unused: frozenset[str] = frozenset()
) -> Linear:
    """Logistic regression on standardised features; ``unused`` ones get weight 0."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    cols = [i for i, n in enumerate(names) if n not in unused]
    sc = StandardScaler().fit(x[:, cols])
    lr = LogisticRegression(C=C, max_iter=5000, class_weight="balanced", random_state=SEED)
    lr.fit(sc.transform(x[:, cols]), y)
    mean, scale, coef = np.zeros(len(names)), np.ones(len(names)), np.zeros(len(names))
    mean[cols], scale[cols], coef[cols] = sc.mean_, sc.scale_, lr.coef_[0]
    return Linear(tuple(names), mean, scale, coef, float(lr.intercept_[0]))


def _dense(assistant: Any, g: Group, i: int) -> float:
    if i not in g.vectors:
        v = assistant._embed_texts([g.question, g.texts[i]])
        g.vectors[i] = float(v[0] @ v[1])
    return g.vectors[i]


def judge_row(assistant: Any, unit: Linear, g: Group) -> list[float] | None:
    if not len(g.labels):
        return None
    scores = unit(g.rows)
    best = int(np.argsort(-scores, kind="stable")[0])
    return judge_features(g.rows, scores, _dense(assistant, g, best))


def fit(assistant: Any, groups: list[Group]) -> tuple[Linear, Linear]:
    rows = [g for g in groups if len(g.labels)]
    x = np.vstack([g.rows for g in rows])
    y = np.concatenate([g.labels for g in rows])
    keep = y >= 0
    unit = _fit_linear(x[keep], y[keep], UNIT_FEATURES, NOT_FOR_UNITS)
    jx, jy = [], []
    for g in groups:
        lab = g.judge_label
        row = judge_row(assistant, unit, g)
        if lab is not None and row is not None:
            jx.append(row)
            jy.append(lab)
    judge = _fit_linear(np.array(jx), np.array(jy), JUDGE_FEATURES)
    return unit, judge


def verdicts(assistant: Any, unit: Linear, judge: Linear, groups: list[Group]) -> list[float]:
    out = []
    for g in groups:
        row = judge_row(assistant, unit, g)
        out.append(float("-inf") if row is None else float(judge(np.array(row))[()]))
    return out


def choose_threshold(groups: list[Group], scores: list[float]) -> float:
    """The lowest threshold that refuses REFUSAL_FLOOR of the answer-less contexts."""
    absent = sorted(s for g, s in zip(groups, scores, strict=True) if g.judge_label == 0)
    if not absent:
        return 0.0
    k = int(np.ceil(REFUSAL_FLOOR * len(absent))) - 1
    return float(absent[min(max(k, 0), len(absent) - 1)]) + 1e-6


def summary(groups: list[Group], scores: list[float], threshold: float) -> dict[str, float]:
    present = [(g, s) for g, s in zip(groups, scores, strict=True) if g.run not in ABSENT_RUNS]
    absent = [s for g, s in zip(groups, scores, strict=True) if g.judge_label == 0]
    return {
        "answered": round(float(np.mean([s >= threshold for _g, s in present])), 3),
        "refused_when_absent": round(float(np.mean([s < threshold for s in absent])), 3),
        "absent_contexts": len(absent),
    }


def train(assistant: Any, groups: list[Group], weeks: set[str]) -> Model:
    train_groups = [g for g in groups if g.week in weeks]
    oof: dict[int, float] = {}
    for w in sorted(weeks):
        inner = [g for g in train_groups if g.week != w]
        unit, judge = fit(assistant, inner)
        held = [g for g in train_groups if g.week == w]
        for g, s in zip(held, verdicts(assistant, unit, judge, held), strict=True):
            oof[id(g)] = s
    scores = [oof[id(g)] for g in train_groups]
    threshold = choose_threshold(train_groups, scores)
    unit, judge = fit(assistant, train_groups)
    others = [g for g in groups if g.week not in weeks]
    labels = np.concatenate([g.labels for g in train_groups if len(g.labels)])
    meta = {
        "trained_on_weeks": sorted(weeks),
        "questions": len({g.qid for g in train_groups}),
        "unit_pairs": int((labels >= 0).sum()),
        "unit_positives": int((labels == 1).sum()),
        "unit_left_out": int((labels == -1).sum()),
        "judge_contexts": sum(1 for g in train_groups if g.judge_label is not None),
        "judge_positives": sum(1 for g in train_groups if g.judge_label == 1),
        "C": C,
        "relevant": RELEVANT,
        "seed": SEED,
        "refusal_floor": REFUSAL_FLOOR,
        "leave_one_week_out": summary(train_groups, scores, threshold),
    }
    if others:
        meta["other_weeks"] = summary(others, verdicts(assistant, unit, judge, others), threshold)
    return Model(unit, judge, threshold, meta)


def main(argv: list[str] | None = None) -> int:
    from assistant.app import Assistant
    from assistant.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", nargs="?", default="realtimeqa")
    ap.add_argument("--train-weeks", choices=["first", "last", "all"], default="first")
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    args = ap.parse_args(argv)
    folder = resolve_dataset(args.dataset, [Path(__file__).resolve().parents[2]])
    settings = Settings()
    settings.index.index_dir = eval_index_dir(settings, folder)
    assistant = Assistant(settings)
    groups = collect(assistant, folder)
    first, last = week_halves(g.week for g in groups)
    chosen = {"first": first, "last": last, "all": first | last}[args.train_weeks]
    model = train(assistant, groups, set(chosen))
    args.out.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(json.dumps(model.meta, indent=1), file=sys.stderr)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
