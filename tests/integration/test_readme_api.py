"""The README's Python API example runs as written, in a folder holding a copy of the sample
corpus, with the real model, and prints what the README says it prints."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.samples import ROOT, SAMPLE_CORPUS


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_the_example_is_ten_lines_of_the_public_api() -> None:
    code = readme_example()
    assert code.startswith("from assistant import Assistant, Settings\n")
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    compile(code, "README.md", "exec")


def test_the_readme_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(SAMPLE_CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("ASSISTANT_")]:
        monkeypatch.delenv(name)
    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "documents: 2 added" in out
    assert (tmp_path / "my-index").is_dir()  # where the example said
    assert "From “NATO Reaffirms Long-Term Support to Ukraine" in out
    cited = re.findall(r"^\[(\d+)\] (.+?) \((\d{4}-\d\d-\d\d)\) (\S+): ", out, re.M)
    assert len(cited) >= 3
    assert [int(n) for n, *_ in cited] == list(range(1, len(cited) + 1))
    assert {source for *_, source in cited} == {
        "000_7f57f19b72752444.txt",
        "004_b2e554588cd8baa4.txt",
    }
    for n, *_ in cited:
        assert f"[{n}]" in out.split("\n[1] ", 1)[0]  # each citation is used in the answer
