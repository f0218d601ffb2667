"""`assistant ask`, `chat` and `open` as a person reads them: wrapped at word boundaries to a
fixed width, plain when piped, bold on a terminal (a real pseudo-terminal), short quotes in
the sources list, and a cited document opened in full with its quote marked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.app import NO_ANSWER
from assistant.fronts.cli import app
from assistant.fronts.terminal import quoted, short_quote
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION, ingested_folder
from tests.support.terminal import FINLAND

runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the sample corpus ingested into ./index (the CLI's default)."""
    return ingested_folder(tmp_path_factory.mktemp("terminal"))


@pytest.fixture
def index(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(workdir)
    return workdir / "index"


def invoke(args: list[str], columns: int = 60, **kw: object) -> str:
    r = runner.invoke(app, args, env={"COLUMNS": str(columns)}, **kw)  # type: ignore[arg-type]
    assert r.exit_code == 0, r.output
    return r.stdout


def answer_of(index: Path, question: str) -> dict[str, object]:
    import json

    r = runner.invoke(app, ["ask", question, "--json", "--index", str(index)])
    return dict(json.loads(r.stdout))


def words(text: str) -> list[str]:
    return text.split()


def test_ask_wraps_at_word_boundaries_to_the_width(index: Path) -> None:
    want = answer_of(index, NATO_QUESTION)
    out = invoke(["ask", NATO_QUESTION, "--index", str(index)], columns=60)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert all(line == line.rstrip() for line in lines), "no padding at line ends"
    assert "\x1b" not in out
    answer_part = out.split("\nSources:\n")[0]
    # Rejoined, the wrapped lines are the answer word for word: no word was split.
    assert words(answer_part) == words(str(want["answer"]))
    wide = invoke(["ask", NATO_QUESTION, "--index", str(index)], columns=120)
    assert max(len(line) for line in wide.splitlines()) > 100
    assert words(wide.split("\nSources:\n")[0]) == words(answer_part)


def test_sources_list_shortens_quotes_without_doubling_marks(index: Path) -> None:
    want = answer_of(index, NATO_QUESTION)
    out = invoke(["ask", NATO_QUESTION, "--index", str(index)], columns=100)
    sources = out.split("\nSources:\n")[1]
    citations = want["citations"]
    assert isinstance(citations, list)
    titles = {c["title"] for c in citations}
    for title in titles:  # each document's title and file appear once, its quotes under it
        assert sources.count(title + " (") == 1
    shown: dict[int, str] = {}  # marker -> its quote, continuation lines joined
    n = 0
    for line in sources.splitlines():
        if m := re.match(r"  \[(\d+)\] (.*)", line):
            n = int(m[1])
            shown[n] = m[2]
        elif n and line.startswith("      "):
            shown[n] += " " + line.strip()
        else:
            n = 0
    assert set(shown) == {c["n"] for c in citations}
    for c in citations:
        text = shown[c["n"]]
        assert len(text) <= 115
        if len(c["quote"]) > 120:
            assert text.endswith(("…", "…”")), text
        core = text.strip("“”").rstrip("…")
        assert " ".join(c["quote"].split()).startswith(core)
        assert not re.search(r"“[\"“]|[\"”]”", text), f"doubled quote marks: {text}"
    assert "note: the sources date from" in out


def test_short_quote_and_quote_marks() -> None:
    q = "NATO will not reduce its support for Ukraine, Secretary General Jens Stoltenberg said."
    assert short_quote(q) == q
    cut = short_quote(q, limit=40)
    assert cut == "NATO will not reduce its support for…"
    assert short_quote("a  b\n c") == "a b c"
    assert quoted("plain words") == "“plain words”"
    assert quoted('"We will" he said') == '"We will" he said'
    assert quoted("support Ukraine,” he added.") == "support Ukraine,” he added."


def test_refusal_is_one_line_without_sources(index: Path) -> None:
    out = invoke(["ask", TAIWAN_QUESTION, "--index", str(index)])
    assert out.startswith(NO_ANSWER)
    assert out.count(NO_ANSWER) == 1 and "\n\n" not in out.strip()
    assert "Sources" not in out


def test_open_prints_the_cited_document_with_the_quote_marked(index: Path) -> None:
    want = answer_of(index, NATO_QUESTION)  # --json answers are not remembered; the next one is
    invoke(["ask", NATO_QUESTION, "--index", str(index)])
    out = invoke(["open", "2", "--index", str(index)], columns=80)
    cites: list[dict[str, object]] = want["citations"]  # type: ignore[assignment]
    c2 = next(c for c in cites if c["n"] == 2)
    assert out.splitlines()[0] == c2["title"]
    assert f"{c2['published']} · {c2['source']}" in out
    marked = re.findall(r">>>\[(\d+)\] (.*?)<<<", " ".join(out.split()), re.S)
    # every quote of the answer from this document, and only those
    assert [n for n, _ in marked] == [str(c["n"]) for c in cites if c["source"] == c2["source"]]
    assert dict(marked)["2"] == " ".join(str(c2["quote"]).split())
    assert max(len(line) for line in out.splitlines()) <= 80
    # `sources` is the same command; brackets as printed in the answer are accepted.
    assert invoke(["sources", "[2]", "--index", str(index)], columns=80) == out


def test_open_by_file_name_and_bad_numbers(index: Path) -> None:
    invoke(["ask", FINLAND, "--index", str(index)])
    out = invoke(["open", "004_b2e554588cd8baa4.txt", "--index", str(index)])
    assert out.startswith("Live updates: Russia’s war in Ukraine")
    assert ">>>" not in out  # no quote of the last answer is from this document
    r = runner.invoke(app, ["open", "9", "--index", str(index)])
    assert r.exit_code == 2 and "no source [9] in the last answer (its sources: 1" in r.output
    r = runner.invoke(app, ["open", "nothing.txt", "--index", str(index)])
    assert r.exit_code == 2 and "no document 'nothing.txt'" in r.output


def test_chat_renders_answers_and_opens_sources(index: Path) -> None:
    r = runner.invoke(
        app,
        ["chat", "--index", str(index)],
        input=f"{NATO_QUESTION}\nand what did he say about Finland?\n/open 1\n/open 7\n\n",
        env={"COLUMNS": "70"},
    )
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.stdout.splitlines()) <= 70
    assert r.stdout.count("Sources:") == 2
    assert ">>>[1] " in r.stdout  # /open 1 after the follow-up: its first source
    assert "no source [7] in the last answer" in r.output  # reported, the chat goes on
