"""What a Python file imports, read from its source (for the layout tests)."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path, package: str = "assistant") -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (imports inside functions count too), with
    its line. ``from PACKAGE import name`` also counts as importing ``PACKAGE.name``, which
    may be a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == package:
                found += [(node.lineno, f"{package}.{a.name}") for a in node.names]
    return found
