"""Finding 8 (medium): text from documents never becomes a citation marker, and only http(s)
URLs are ever emitted as links."""

from __future__ import annotations

import json
import re

import pytest

from assistant.app import Assistant
from assistant.fronts.http import SOURCES_HEADING, create_app
from assistant.fronts.web import sources_html
from assistant.types import Citation, Turn
from tests.support.samples import make_settings
from tests.support.security import asgi_request

DOC = """---
title: Harbour budget [3] approved
url: javascript:alert(document.cookie)
date: 2024-03-14
---
The Elmridge council approved a harbour budget of 5 million dollars [7] on Thursday, the mayor
said. The budget [12] covers new pontoons and a dredging contract [2, 9] for the channel.
"""
RECORDS = "\n".join(
    json.dumps(r)
    for r in [
        {"id": "r1", "title": "Pontoon tender", "published_at": "2024-03-15",
         "url": "data:text/html,<script>alert(1)</script>",
         "text": "The harbour pontoon tender [4] closes in April, the council said on Friday."},
        {"id": "r2", "title": "Dredging delayed", "published_at": "2024-03-16",
         "url": "https://news.example/dredging",
         "text": "The harbour dredging contract was delayed [1] by a month, the council said "
                 "on Saturday."},
        {"id": "r3", "title": "Channel depth", "published_at": "2024-03-17",
         "url": " JavaScript:alert(2)",
         "text": "The harbour channel depth survey [5] found silt, the council said on Sunday."},
    ]
)  # fmt: skip
QUESTIONS = [
    "How much was the harbour budget the council approved?",
    "What does the harbour budget cover?",
    "When does the harbour pontoon tender close?",
    "Why was the harbour dredging contract delayed?",
    "What did the harbour channel depth survey find?",
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    tmp = tmp_path_factory.mktemp("markers")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "budget.md").write_text(DOC, encoding="utf-8")
    (corpus / "more.jsonl").write_text(RECORDS, encoding="utf-8")
    # a low threshold: the property under test is what an answer's markers point at, so every
    # question must be answered (refusals are test_reader_answers' business)
    a = Assistant(make_settings(tmp).replace(reader_threshold=0.05))
    assert a.ingest().docs_added == 4
    return a


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_marker_in_an_answer_is_a_citation(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.answered, answer.answer
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}, answer.answer
    assert not re.search(r"\[\s*\d+\s*[,;–-]", answer.answer), answer.answer
    # Quotes stay exact copies of the documents, brackets and all.
    texts = assistant.document_texts(c.doc_id for c in answer.citations)
    for c in answer.citations:
        assert texts[c.doc_id][c.start : c.end] == c.quote


def test_only_http_urls_leave_the_assistant(assistant: Assistant) -> None:
    urls = {d["title"]: d["url"] for d in assistant.documents()}
    assert urls == {
        "Harbour budget [3] approved": None,
        "Pontoon tender": None,
        "Dredging delayed": "https://news.example/dredging",
        "Channel depth": None,
    }
    for question in QUESTIONS:
        answer = assistant.ask(question)
        for c in answer.citations:
            assert c.url is None or re.match(r"https?://", c.url), c.url
        turn = Turn(question, question, answer.answer, answer.answered, answer.citations)
        html = sources_html([turn], {})
        assert "javascript:" not in html.lower() and "data:text" not in html


def test_a_citation_never_carries_another_scheme() -> None:
    c = Citation(1, "s", "t", "javascript:alert(1)", None, "q", 0, 1)
    assert c.url is None and Citation(1, "s", "t", "HTTPS://x.example/a", None, "q", 0, 1).url


@pytest.mark.parametrize("stream", [False, True])
def test_titles_in_the_v1_sources_list_carry_no_markers(assistant: Assistant, stream: bool) -> None:
    # The OpenAI-compatible reply is plain text: a title's "[3]" would read as citation 3.
    app = create_app(assistant, ui=False)
    body = {"messages": [{"role": "user", "content": QUESTIONS[1]}], "stream": stream}
    r = asgi_request(app, "POST", "/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    if stream:
        events = [json.loads(line[6:]) for line in r.text.splitlines() if line[6:7] == "{"]
        content = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
        citations = events[-1]["citations"]
    else:
        content = r.json()["choices"][0]["message"]["content"]
        citations = r.json()["citations"]
    sources = content.split(SOURCES_HEADING)[-1]
    assert "[1] Harbour budget (3) approved (2024-03-14)" in sources, content
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", content)}
    assert markers == {c["n"] for c in citations}, content
