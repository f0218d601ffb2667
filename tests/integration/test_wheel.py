"""The package as a user gets it: a wheel built from the source, installed into a fresh venv,
used from a folder outside the repository, offline.

Installing every dependency into a fresh venv from the registry takes minutes, so the fresh
venv sees this venv's site-packages (a .pth file, which adds the folder without running the
.pth files inside it, so the editable install's import hook stays off) and the wheel is
installed with --no-deps. The test first proves that ``assistant`` itself, its prompts and its
vendored tokenizer come from the wheel's files in the new venv and nowhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.support.fake_llm import FakeLLM, Running
from tests.support.llm_scripts import PLEDGE_2022, PLEDGE_2023, REFUSAL, well_cited
from tests.support.samples import NATO_QUESTION, ROOT, SAMPLE_CORPUS

pytestmark = pytest.mark.slow

# Top-level entries of the repository that are not part of a source distribution.
NOT_SOURCE = {".git", ".venv", ".ci", "build", "dist", "index", "tests", "benchmarks", "docs"}

WHERE = """
import json, assistant
from importlib.metadata import distribution
from assistant.answer.prompts import PROMPTS_DIR, load_prompts
from assistant.index.embedders.minilm import VENDOR_DIR
load_prompts()
print(json.dumps({
    "package": assistant.__file__,
    "prompts": str(PROMPTS_DIR),
    "tokenizer": str(VENDOR_DIR / "tokenizer.json"),
    "tokenizer_exists": (VENDOR_DIR / "tokenizer.json").is_file(),
    "dist": str(distribution("newsroom-assistant").locate_file("")),
}))
"""


def _copy_source(dest: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        at_root = Path(folder) == ROOT
        return {
            n
            for n in names
            if (at_root and n in NOT_SOURCE)
            or n == "__pycache__"
            or n.endswith((".egg-info", "_cache"))
        }

    # symlinks=True: assistant/_prompts stays the link it is in the repository.
    shutil.copytree(ROOT, dest, symlinks=True, ignore=ignore)
    return dest


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{args} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _copy_source(tmp / "src")
    env = _clean_env()
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(tmp / "dist"), str(src)],
        tmp,
        env,
    )
    (wheel,) = (tmp / "dist").glob("newsroom_assistant-*.whl")
    target = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
             tmp, env).stdout.strip()
    )  # fmt: skip
    # The dependencies: this venv's site-packages, after the new venv's own.
    (site / "test-venv-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
        + ["--no-index", "--quiet", str(wheel)],
        tmp,
        env,
    )
    return target


def _clean_env(**assistant_env: str) -> dict[str, str]:
    """No PYTHONPATH (the repository must not be importable), no ASSISTANT_* of ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ASSISTANT_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env.update({f"ASSISTANT_{k.upper()}": v for k, v in assistant_env.items()})
    return env


def test_the_package_prompts_and_tokenizer_come_from_the_wheel(
    installed: Path, tmp_path: Path
) -> None:
    r = _run([str(installed / "bin" / "python"), "-c", WHERE], tmp_path, _clean_env())
    where = json.loads(r.stdout)
    site = installed / "lib"
    for key in ("package", "prompts", "tokenizer", "dist"):
        path = Path(where[key])
        assert path.is_relative_to(site), f"{key} is {path}, not inside {site}"
        assert not path.resolve().is_relative_to(ROOT), f"{key} resolves into the repository"
    assert where["tokenizer_exists"]
    # Real files in the wheel, not a link back to the repository's prompts/.
    prompts = Path(where["prompts"])
    assert not prompts.is_symlink()
    assert (prompts / "refusal.txt").read_text(encoding="utf-8").strip() == REFUSAL


def test_ingest_ask_and_llm_mode_from_outside_the_repository(
    installed: Path, tmp_path: Path
) -> None:
    work = tmp_path / "newsroom"
    shutil.copytree(SAMPLE_CORPUS, work / "corpus")
    assistant = str(installed / "bin" / "assistant")

    r = _run([assistant, "ingest"], work, _clean_env())
    assert "2 added" in r.stdout + r.stderr
    assert (work / "index").is_dir()

    r = _run([assistant, "ask", NATO_QUESTION, "--json"], work, _clean_env())
    d = json.loads(r.stdout)
    assert d["answered"] is True and len(d["citations"]) >= 3
    assert {c["published"] for c in d["citations"]} == {"2023-11-27", "2022-11-25"}

    with Running(FakeLLM(responder=well_cited)) as fake:
        env = _clean_env(llm="openai", llm_base_url=f"{fake.url}/v1", llm_model="fake-model")
        r = _run([assistant, "ask", NATO_QUESTION, "--json"], work, env)
        requests = list(fake.requests)
    d = json.loads(r.stdout)
    assert d["answered"] is True
    assert d["verification"] == {
        "verified": 2,
        "marked": 0,
        "dropped": 0,
        "markers_removed": 0,
        "recited": 0,
    }
    quotes = " ".join(c["quote"] for c in d["citations"])
    assert PLEDGE_2023 in quotes and PLEDGE_2022 in quotes
    (seen,) = requests
    assert seen.path == "/v1/chat/completions"
    # The packaged system prompt reached the model.
    assert REFUSAL in seen.messages[0]["content"]
