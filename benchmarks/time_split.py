"""Every tuned setting on weeks it was and was not chosen on (issue 17's tuning report).

    .venv/bin/python benchmarks/time_split.py [--dataset DIR] [--index DIR]
        [--knobs bm25_weight,lead_boost,...] [--chunking]

Works on the index `assistant eval` builds for the dataset (built here if missing: a few
minutes of embedding for realtimeqa on 2 cores). Splits the dev questions by the week they were
asked (first two thirds of the weeks, last third), then for each tuned setting evaluates every
value of a small grid with the other settings at their defaults, and applies the rule in
assistant/evaluation/tuning.py: choose on one part, check on the other, both ways; a setting
whose gain does not hold goes back to its plain default. Prints the grid (MRR@10, Hits@1 and
answer-has-gold on each part) and one verdict per setting.

``--chunking`` adds chunk_size (128, 200, 256 tokens): each size is a separate index, built
here on first use (about 5 minutes each on 2 busy cores), reused after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assistant  # noqa: E402,F401  (offline switches before any library loads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=None, help="default: shared realtimeqa")
    ap.add_argument("--index", type=Path, default=None, help="default: the eval index")
    ap.add_argument("--knobs", default="", help="comma-separated names (default: all)")
    ap.add_argument("--chunking", action="store_true", help="also chunk_size (re-indexes)")
    args = ap.parse_args()

    from assistant.app import Assistant
    from assistant.evaluation.runner import (
        CORPUS_FILE,
        Benchmark,
        eval_index_dir,
        load_questions,
        resolve_dataset,
    )
    from assistant.evaluation.split import parts, split_weeks
    from assistant.evaluation.tuning import (
        CHUNKING,
        KNOBS,
        Tuner,
        Verdict,
        directions_table,
        grid_table,
        judge,
        settings_chosen_on,
        verdict_table,
    )
    from assistant.settings import Settings

    dataset = args.dataset or resolve_dataset("realtimeqa", [ROOT])
    questions = load_questions(dataset / "dev.jsonl")
    split = split_weeks(q.week for q in questions)
    if split is None:
        sys.exit("the questions span fewer than two weeks: nothing to split")
    bench = Benchmark(dataset, questions)
    n = {p: len(qs) for p, qs in parts(questions, split).items()}

    def assistant_for(**index: Any) -> Any:
        """The assistant on the eval index; another chunking gets its own index beside it."""
        settings = Settings()
        for name, value in index.items():
            setattr(settings.index, name, value)
        if args.index is not None and not index:
            settings.index.index_dir = args.index
        else:
            if args.index is not None:
                settings.index.index_dir = args.index.parent
            settings.index.index_dir = eval_index_dir(settings, dataset)
        a = Assistant(settings)
        t0 = time.perf_counter()
        report = a.ingest([dataset / CORPUS_FILE])
        if report.docs_added:
            print(
                f"built {settings.index.index_dir} ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
            )
        return a

    a = assistant_for()
    tuner = Tuner(a, bench, questions, split, progress=lambda s: print(s, file=sys.stderr))
    wanted = {k for k in args.knobs.split(",") if k}
    verdicts: list[Verdict] = [tuner.verdict(k) for k in KNOBS if not wanted or k.name in wanted]

    if args.chunking:
        current = a.settings.index.chunk_size
        trials = {}
        for size in CHUNKING.grid:
            other = a if size == current else assistant_for(chunk_size=size)
            trials[size] = Tuner(other, bench, questions, split).by_part(
                [bench.result(other, q) for q in questions]
            )
        verdicts.append(judge(CHUNKING, current, trials))

    print(f"dataset {dataset}: {len(questions)} questions")
    print(f"first part: {split.header('first', n['first'])}")
    print(f"last part: {split.header('last', n['last'])}")
    print()
    print(grid_table(verdicts))
    print()
    print(verdict_table(verdicts))
    # Each direction's settings together (chunking stays: it needs another index).
    tunable = [v for v in verdicts if v.knob.group != "index"]
    scores = {p: tuner.with_values(settings_chosen_on(tunable, p)) for p in ("first", "last")}
    print()
    print(directions_table(scores))


if __name__ == "__main__":
    main()
