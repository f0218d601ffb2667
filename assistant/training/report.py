"""The evaluation table printed at the end of training, from the exported int8 graph as the
product runs it (assistant/answer/readers/minilm_reader.py):

- SQuAD 2.0, the articles held out of training (every third by title): for answerable
  questions, whether the unit the reader rates best is the one holding the answer
  (answer-sentence accuracy) and whether it also reaches the threshold (answered right); for
  unanswerable ones, whether every unit stays below the threshold (no-answer accuracy);
- realtimeqa-weekly, the choosing weeks' pairs: ranking quality (ROC AUC) and, per question,
  whether the best-rated unit is a positive.

The news measure that counts is the weekly-pool evaluation (``assistant eval
realtimeqa-weekly --weekly``), which asks the whole product.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
from pathlib import Path

import numpy as np

from assistant.answer.reader import Unit
from assistant.answer.readers.minilm_reader import OnnxReader
from assistant.training.data import Pair, load_squad, squad_articles, squad_held_out


def auc(scores: list[float], labels: list[int]) -> float:
    """ROC AUC by ranks (ties averaged)."""
    s = np.asarray(scores)
    y = np.asarray(labels)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if not pos or not neg:
        return float("nan")
    order = s.argsort(kind="stable")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):
        tie = s == v
        ranks[tie] = ranks[tie].mean()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def squad_table(datasets: Path, reader: OnnxReader) -> list[str]:
    path = datasets / "squad2-dev" / "dev-v2.0.json"
    held = squad_held_out(squad_articles(path))
    questions = load_squad(path, held)
    sentence = right = answerable = refused = impossible = 0
    for q in questions:
        if not q.units:
            continue
        units = [Unit(c.text, c.title, c.before) for c in q.units]
        probs = [r.prob for r in reader.read(q.question, units)]
        best = int(np.argmax(probs))
        if q.answer_unit is None:
            impossible += 1
            refused += max(probs) < reader.threshold
        else:
            answerable += 1
            sentence += best == q.answer_unit
            right += best == q.answer_unit and probs[best] >= reader.threshold
    return [
        f"SQuAD 2.0 held-out articles ({len(held)}): {answerable} answerable, "
        f"{impossible} unanswerable questions",
        f"| answer-sentence accuracy | {sentence / max(1, answerable):.3f} |",
        f"| answered right (best unit, at the threshold) | {right / max(1, answerable):.3f} |",
        f"| no-answer accuracy | {refused / max(1, impossible):.3f} |",
    ]


def pairs_table(pairs: list[Pair], reader: OnnxReader) -> list[str]:
    by_q: dict[str, list[Pair]] = {}
    for p in pairs:
        by_q.setdefault(p.qid, []).append(p)
    scores: list[float] = []
    labels: list[int] = []
    top_right = with_pos = 0
    for group in by_q.values():
        probs = [
            r.prob
            for r in reader.read(
                group[0].question, [Unit(p.text, p.title, p.before) for p in group]
            )
        ]
        scores += probs
        labels += [p.label for p in group]
        if any(p.label for p in group):
            with_pos += 1
            top_right += group[int(np.argmax(probs))].label
    return [
        f"realtimeqa-weekly choosing weeks: {len(pairs):,} pairs of {len(by_q)} questions",
        f"| pair ROC AUC | {auc(scores, labels):.3f} |",
        "| best-rated unit is a positive (questions with one) | "
        f"{top_right / max(1, with_pos):.3f} |",
    ]


def report(datasets: Path, split: str, model: Path, work: Path | None = None) -> None:
    reader = OnnxReader(model, threads=0)
    lines = [f"reader {model} (threshold {reader.threshold:.2f}), split {split}", ""]
    cache = sorted((work or Path("build/reader")).glob(f"pairs-{split}-*.pkl.gz"))
    if cache:
        with gzip.open(cache[0], "rb") as f:
            _train, _choose, choose_pairs, _manifest = pickle.load(f)
        lines += [*pairs_table(choose_pairs, reader), ""]
    lines += squad_table(datasets, reader)
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    from assistant.training.train import SHIPPED, default_datasets

    ap = argparse.ArgumentParser(description="The reader's evaluation table.")
    ap.add_argument("--split", default="forward")
    ap.add_argument("--model", type=Path, default=SHIPPED)
    ap.add_argument("--datasets", type=Path, default=default_datasets())
    ap.add_argument("--work", type=Path, default=Path("build/reader"))
    args = ap.parse_args(argv)
    report(args.datasets, args.split, args.model, args.work)


if __name__ == "__main__":
    main()
