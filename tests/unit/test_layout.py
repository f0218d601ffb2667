"""The architecture holds: front ends reach the engine only through the core's public surface."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import imported_modules

ROOT = Path(__file__).resolve().parents[2]
FRONTS = ROOT / "assistant" / "fronts"
# What a front end may import of ours: the core object, its records and errors, settings,
# logging, the evaluation tool, and other front ends.
ALLOWED = (
    "assistant",
    "assistant.app",
    "assistant.types",
    "assistant.errors",
    "assistant.settings",
    "assistant.logs",
    "assistant.offline",
    "assistant.evaluation",
    "assistant.fronts",
)


def _allowed(module: str) -> bool:
    if module.split(".")[0] != "assistant":
        return True
    return module in ALLOWED or any(module.startswith(a + ".") for a in ALLOWED[1:])


def test_front_ends_import_only_the_core_surface() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(FRONTS.glob("*.py"))
        for line, module in imported_modules(path)
        if not _allowed(module)
    ]
    assert offending == []


def test_the_check_catches_an_engine_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from assistant.app import Assistant\n"
        "def f():\n    from assistant.index.store import Store\n"
        "from assistant import text\n",
        encoding="utf-8",
    )
    modules = sorted(m for _, m in imported_modules(bad) if not _allowed(m))
    assert modules == ["assistant.index.store", "assistant.text"]
