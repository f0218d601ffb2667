"""The architecture holds: front ends reach the engine only through the core's public surface."""

from __future__ import annotations

import ast
from pathlib import Path

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


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # "from assistant import text" imports the module assistant.text
            if node.module == "assistant":
                found += [(node.lineno, f"assistant.{a.name}") for a in node.names]
    return found


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
