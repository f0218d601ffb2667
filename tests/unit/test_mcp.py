"""The MCP server's tools and resources, driven in process by the official SDK's own client.
(`assistant mcp` over stdio and the HTTP transport in `assistant serve` are
tests/integration/test_mcp_transports.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from assistant.app import Assistant
from assistant.fronts.mcp import build_server
from tests.support.mcp_client import check_contract, run
from tests.support.samples import NATO_QUESTION


@pytest.fixture(scope="module")
def server(sample_assistant: Assistant) -> Any:
    return build_server(sample_assistant)


def test_ask_returns_the_answer_contract_with_document_links(
    server: Any, sample_assistant: Assistant
) -> None:
    want = sample_assistant.ask(NATO_QUESTION).to_dict()

    async def scenario(c: Client) -> dict[str, Any]:
        r = await c.call_tool("ask", {"question": NATO_QUESTION})
        assert not r.is_error
        return r.structured_content or {}

    got = run(scenario, server)
    for key in ("question", "standalone_question", "answered", "answer"):
        assert got[key] == want[key]
    contract_keys = set(want["citations"][0])
    assert [{k: c[k] for k in contract_keys} for c in got["citations"]] == want["citations"]
    assert set(got["timings_ms"]) >= {"retrieve", "answer"}
    assert [p["text"] for p in got["retrieved"]] == [p["text"] for p in want["retrieved"]]

    def text_of(uri: str) -> str:
        return str(sample_assistant.document(uri.removeprefix("document://"))["text"])

    check_contract(got, text_of)


def test_search_ranks_passages_without_an_answer(server: Any, sample_assistant: Assistant) -> None:
    async def scenario(c: Client) -> dict[str, Any]:
        r = await c.call_tool("search", {"query": "Finland membership", "top_k": 3})
        assert not r.is_error
        return r.structured_content or {}

    got = run(scenario, server)
    assert "answer" not in got
    passages = got["passages"]
    assert [p["rank"] for p in passages] == [1, 2, 3]
    assert passages[0]["score"] >= passages[-1]["score"]
    assert any("Finland" in p["text"] for p in passages)
    for p in passages:
        doc = sample_assistant.document(p["document"].removeprefix("document://"))
        assert doc["text"][p["start"] : p["end"]] == p["text"]
        assert p["title"] == doc["title"] and p["published"] == doc["published"]


def test_list_documents_and_resources_agree(server: Any, sample_assistant: Assistant) -> None:
    async def scenario(c: Client) -> tuple[dict[str, Any], list[Any], list[Any]]:
        r = await c.call_tool("list_documents", {})
        templates = (await c.list_resource_templates()).resource_templates
        return r.structured_content or {}, (await c.list_resources()).resources, templates

    listing, resources, templates = run(scenario, server)
    assert listing["count"] == 2
    assert [d["doc_id"] for d in listing["documents"]] == [
        d["doc_id"] for d in sample_assistant.documents()
    ]
    assert {d["document"] for d in listing["documents"]} == {str(r.uri) for r in resources}
    assert [t.uri_template for t in templates] == ["document://{doc_id}"]
    newest = listing["documents"][0]
    assert newest["published"] == "2023-11-27" and newest["chunks"] >= 1


def test_bad_input_is_a_tool_error_with_the_reason(server: Any) -> None:
    async def scenario(c: Client) -> list[Any]:
        return [
            await c.call_tool("ask", {"question": NATO_QUESTION, "until": "yesterday"}),
            await c.call_tool("ask", {"question": "   "}),
            await c.call_tool("search", {"query": NATO_QUESTION, "top_k": 0}),
        ]

    bad_date, empty, bad_k = run(scenario, server)
    for r in (bad_date, empty, bad_k):
        assert r.is_error and r.structured_content is None
    assert "not a date" in bad_date.content[0].text
    assert "empty" in empty.content[0].text.lower()
    assert "top_k" in bad_k.content[0].text


def test_unknown_document_is_not_found(server: Any) -> None:
    async def scenario(c: Client) -> None:
        with pytest.raises(MCPError, match="no document with id"):
            await c.read_resource("document://d0000000000000000")

    run(scenario, server)


def test_an_empty_index_says_to_ingest(tmp_path: Path) -> None:
    from tests.support.samples import make_settings

    empty = build_server(Assistant(make_settings(tmp_path)))

    async def scenario(c: Client) -> Any:
        return await c.call_tool("ask", {"question": NATO_QUESTION})

    r = run(scenario, empty)
    assert r.is_error and "assistant ingest" in r.content[0].text
