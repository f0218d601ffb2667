"""The numbered evidence an LLM would be sent for a question, for verification tests."""

from __future__ import annotations

from assistant.answer.llm import build_evidence
from assistant.answer.verification import Evidence
from assistant.app import Assistant


def evidence_for(a: Assistant, question: str) -> tuple[list[Evidence], dict[str, str]]:
    """All the passages retrieved for ``question`` (no context limit) and their documents."""
    hits = a.retrieve(question, top_k=8)
    texts = a.document_texts([h.chunk.doc_id for h in hits])
    return build_evidence(hits, texts, 100_000, lambda s: len(s) // 4), texts


def evidence_id(evidence: list[Evidence], phrase: str) -> int:
    """The number of the first passage that contains ``phrase``."""
    return next(e.n for e in evidence if phrase in e.text)
