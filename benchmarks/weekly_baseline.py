"""The weekly-pool figures of another commit's answerer, on the same week indexes: the
"before" column of the reader's before/after table.

    .venv/bin/python benchmarks/weekly_baseline.py --ref 37b2702 [--parts report] [--every 4]

REF is checked out into a git worktree under build/ and this script runs again in a
subprocess with that checkout first on ``sys.path``; the evaluation code itself
(assistant/evaluation/weekly.py and weekly_data.py) is this checkout's, loaded by path, so both
sides are asked and scored the same way. The week indexes in ``<index_dir>/eval-weekly`` are
shared (REF must build the same index: same embedder and chunking); each week's answers are
kept in a JSONL file there, so a second run only prints.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> object:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def measure(code: Path, split: str, parts: list[str], tag: str, datasets: Path, every: int) -> None:
    """Runs inside the subprocess: REF's ``assistant`` package, this checkout's evaluation."""
    sys.path.insert(0, str(code))
    import assistant  # noqa: F401  (REF's offline switches)
    from assistant.settings import Settings

    data = _load("assistant.evaluation.weekly_data", ROOT / "assistant/evaluation/weekly_data.py")
    weekly = _load("assistant.evaluation.weekly", ROOT / "assistant/evaluation/weekly.py")
    time_split = data.SPLITS[split]  # type: ignore[attr-defined]
    questions = data.load_weekly(datasets / "realtimeqa-weekly")  # type: ignore[attr-defined]
    settings = Settings()
    out = {}
    for part in parts:
        cache = settings.index.index_dir / "eval-weekly" / f"weekly-{split}-{part}-{tag}.jsonl"
        records = weekly.run_weekly(  # type: ignore[attr-defined]
            settings,
            questions,
            lambda m, part=part: time_split.part(m) == part,
            None,
            None,
            cache,
            every,
        )
        out[part] = weekly.metrics(records)  # type: ignore[attr-defined]
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True)
    ap.add_argument("--split", default="forward")
    ap.add_argument("--parts", default="report")
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--every", type=int, default=1, help="one week in every N")
    ap.add_argument("--code", type=Path, default=None, help="(internal) the checkout measured")
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    if args.code is not None:
        measure(args.code, args.split, parts, f"baseline-{args.ref}", args.datasets, args.every)
        return
    tree = ROOT / "build" / f"baseline-{args.ref}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                        args.ref], check=True, capture_output=True)  # fmt: skip
    done = subprocess.run(
        [sys.executable, __file__, "--ref", args.ref, "--split", args.split, "--parts",
         args.parts, "--datasets", str(args.datasets), "--code", str(tree),
         "--every", str(args.every)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"the baseline run failed: {done.stderr.strip()[-1500:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    sample = f", one week in {args.every}" if args.every > 1 else ""
    print(f"weekly pools, split {args.split}{sample}, answerer of {args.ref}")
    names = list(next(iter(result.values())))
    print("| metric | " + " | ".join(result) + " |")
    print("|---|" + "---|" * len(result))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{result[p][n]:.3f}" for p in result) + " |")


if __name__ == "__main__":
    main()
