"""The MCP server, driven by the official SDK's own client: over stdio against `assistant mcp`
as an AI client starts it, and in-process for the finer points."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from assistant.app import NO_ANSWER, Assistant
from assistant.fronts.mcp import build_server
from tests.support.live_server import LiveServer, live_server
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION, sample_assistant_in
from tests.support.servers import cli_env


def run(scenario: Callable[[Client], Awaitable[Any]], server: Any) -> Any:
    async def main() -> Any:
        async with Client(server, read_timeout_seconds=120) as client:
            return await scenario(client)

    return asyncio.run(main())


def check_contract(answer: dict[str, Any], text_of: Callable[[str], str]) -> None:
    """Every marker has a citation whose quote sits at its offsets in the document resource."""
    assert answer["answered"] is True
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert markers == {c["n"] for c in answer["citations"]}
    for c in answer["citations"]:
        assert c["document"].startswith("document://")
        assert text_of(c["document"])[c["start"] : c["end"]] == c["quote"]


def test_stdio_server_as_an_ai_client_starts_it(sample_assistant: Assistant) -> None:
    index = sample_assistant.settings.index.index_dir
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "assistant", "mcp", "--index", str(index)],
        env=cli_env(),
        cwd=str(index.parent),
    )

    async def scenario(c: Client) -> None:
        assert c.server_info is not None and c.server_info.name == "newsroom-assistant"
        assert "answered is false" in (c.instructions or "")
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == {"ask", "search", "list_documents"}
        ask_args = tools["ask"].input_schema["properties"]
        assert set(ask_args) == {"question", "since", "until", "as_of", "top_k"}
        assert tools["ask"].input_schema["required"] == ["question"]
        assert tools["ask"].output_schema is not None
        assert tools["ask"].annotations is not None and tools["ask"].annotations.read_only_hint

        r = await c.call_tool("ask", {"question": NATO_QUESTION, "since": "2023-01-01"})
        assert not r.is_error
        answer = r.structured_content
        assert answer is not None
        assert {c["published"] for c in answer["citations"]} == {"2023-11-27"}
        # The text content is the same contract, for clients that read only text.
        assert json.loads(r.content[0].text)["answer"] == answer["answer"]  # type: ignore[union-attr]

        texts: dict[str, str] = {}
        for uri in {c["document"] for c in answer["citations"]}:
            read = await c.read_resource(uri)
            doc = json.loads(read.contents[0].text)  # type: ignore[union-attr]
            assert read.contents[0].mime_type == "application/json"
            assert doc["title"] and doc["published"] == "2023-11-27"
            texts[uri] = doc["text"]
        check_contract(answer, texts.__getitem__)

        resources = (await c.list_resources()).resources
        assert len(resources) == 2
        assert {r.title for r in resources} == {d["title"] for d in sample_assistant.documents()}

        r = await c.call_tool("ask", {"question": TAIWAN_QUESTION})
        assert r.structured_content is not None
        assert r.structured_content["answered"] is False
        assert r.structured_content["answer"].startswith(NO_ANSWER)
        assert r.structured_content["citations"] == []

    run(scenario, params)


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


# --- streamable HTTP, mounted in `assistant serve` ----------------------------------------------
TOKEN = "mcp-token-7a1f"


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("mcp-http")
    with live_server(sample_assistant_in(tmp, api_token=TOKEN), tmp, ui=False) as srv:
        yield srv


def test_http_transport_behind_the_api_token(http_server: LiveServer) -> None:
    import httpx
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    url = f"{http_server.url}/mcp"
    hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    refused = httpx.post(url, json=hello, trust_env=False)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    wrong = httpx.post(url, json=hello, headers={"Authorization": "Bearer x"}, trust_env=False)
    assert wrong.status_code == 401

    async def main() -> tuple[dict[str, Any], list[str]]:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx2.AsyncClient(headers=auth, timeout=120, trust_env=False) as http,
            Client(streamable_http_client(url, http_client=http)) as c,
        ):
            r = await c.call_tool("ask", {"question": NATO_QUESTION, "top_k": 4})
            assert not r.is_error
            tools = [t.name for t in (await c.list_tools()).tools]
            return r.structured_content or {}, tools

    answer, tools = asyncio.run(main())
    assert sorted(tools) == ["ask", "list_documents", "search"]
    assert answer["answered"] is True and len(answer["retrieved"]) == 4

    def text_of(uri: str) -> str:
        return str(http_server.assistant.document(uri.removeprefix("document://"))["text"])

    check_contract(answer, text_of)
