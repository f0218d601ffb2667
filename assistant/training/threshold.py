"""Choose the reader's threshold on the choosing weeks of its time split, with the whole
product (weekly pools: evaluation/weekly.py), and write it into the model's card.

    python -m assistant.training.threshold --split forward

The questions are asked once with a threshold of 0, each recording the reader's best
probability; the threshold that maximises answer-has-gold + refused-when-removed on the
choosing weeks is kept. The reported weeks are not read here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.evaluation.weekly import metrics, run_weekly_eval
from assistant.settings import Settings


def main(argv: list[str] | None = None) -> None:
    from assistant.training.train import SHIPPED, default_datasets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="forward")
    ap.add_argument(
        "--model",
        type=Path,
        default=None,
        help="default: the shipped graph (forward) or build/reader/<split>",
    )
    ap.add_argument("--datasets", type=Path, default=default_datasets())
    ap.add_argument("--index-dir", type=Path, default=Path("index"))
    ap.add_argument("--every", type=int, default=1, help="one choosing week in every N")
    args = ap.parse_args(argv)
    model = args.model or (
        SHIPPED
        if args.split == "forward"
        else Path("build/reader") / args.split / "minilm-reader.onnx"
    )
    settings = Settings().replace(index_dir=args.index_dir, reader_model=model)
    report = run_weekly_eval(
        settings,
        args.datasets / "realtimeqa-weekly",
        args.split,
        ("choose",),
        sweep=True,
        cache_dir=args.index_dir / "eval-weekly",
        every=args.every,
    )
    chosen = metrics(report.parts["choose"], report.threshold)
    card_path = model.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["threshold"] = report.threshold
    card["threshold_source"] = (
        f"chosen on the {args.split} split's choosing weeks "
        f"({card['split']['choose'][0]}..{card['split']['choose'][1]}"
        + (f", one week in {args.every}" if args.every > 1 else "")
        + ") by "
        "python -m assistant.training.threshold: the highest answer-has-gold + "
        "refused-when-removed over weekly pools"
    )
    card.setdefault("metrics", {})["choose_weeks"] = {k: round(v, 4) for k, v in chosen.items()}
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"threshold {report.threshold:.2f} written to {card_path}")
    print(report.table())


if __name__ == "__main__":
    main()
