"""The tests keep their own layout: test files and benchmarks share code only through
tests/support, never by importing a conftest or another test file."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import imported_modules
from tests.support.samples import ROOT


def _imports(path: Path) -> list[str]:
    return [module for _, module in imported_modules(path, package="tests")]


def test_tests_and_benchmarks_import_only_tests_support() -> None:
    files = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    offending = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        if "support" not in path.relative_to(ROOT).parts[:2]
        for module in _imports(path)
        if _is_test_code(module) and not module.startswith("tests.support")
    ]
    assert offending == []


def _is_test_code(module: str) -> bool:
    """tests.*, a conftest, or a test module imported by its bare name."""
    first = module.split(".")[0]
    return first == "tests" or first == "conftest" or first.startswith("test_")


def test_the_check_catches_a_conftest_or_test_import(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text(
        "from tests.conftest import NATO_QUESTION\nimport conftest\n"
        "from tests.unit.test_api import ask\nfrom test_cli import runner\n"
        "from tests.support.samples import ROOT\nimport testing\n",
        encoding="utf-8",
    )
    flagged = [m for m in _imports(bad) if _is_test_code(m) and not m.startswith("tests.support")]
    assert flagged == ["tests.conftest", "conftest", "tests.unit.test_api", "test_cli"]


def test_support_never_imports_a_test() -> None:
    offending = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "tests" / "support").rglob("*.py"))
        for module in _imports(path)
        if module.startswith("tests.") and not module.startswith("tests.support")
    ]
    assert offending == []
