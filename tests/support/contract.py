"""The answer contract (README, "The answer contract"), checked the same way everywhere."""

from __future__ import annotations

import re
from typing import Any

from assistant.app import Assistant

CONTRACT_KEYS = {
    "question",
    "standalone_question",
    "answered",
    "answer",
    "citations",
    "retrieved",
    "timings_ms",
}


def markers(text: str) -> set[int]:
    """The citation numbers an answer's text uses."""
    return {int(m) for m in re.findall(r"\[(\d+)\]", text)}


def assert_contract(a: Assistant, d: dict[str, Any]) -> None:
    """``d`` (an Answer as a dict) has the contract's keys, every marker has a citation and
    every citation is used, numbered 1..n, and each quote is the stored text at its offsets."""
    assert set(d) >= CONTRACT_KEYS
    assert set(d["timings_ms"]) >= {"retrieve", "answer"}
    for r in d["retrieved"]:
        assert {"rank", "source", "title", "score", "text"} <= set(r)
    assert markers(d["answer"]) == {c["n"] for c in d["citations"]}
    assert [c["n"] for c in d["citations"]] == list(range(1, len(d["citations"]) + 1))
    docs = {rec["source"]: rec for rec in a.documents()}
    for c in d["citations"]:
        assert {"n", "source", "title", "url", "published", "quote", "start", "end"} <= set(c)
        doc_id = docs[c["source"]]["doc_id"]
        text = a.document_texts([doc_id])[doc_id]
        assert text[c["start"] : c["end"]] == c["quote"], "quote must be the stored text"
