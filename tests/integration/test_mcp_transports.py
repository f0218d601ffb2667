"""The MCP server as AI clients reach it: `assistant mcp` over stdio, started by the SDK's
client, and the streamable HTTP transport mounted in `assistant serve` behind the API token."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from assistant.app import NO_ANSWER, Assistant
from tests.support.live_server import LiveServer, live_server
from tests.support.mcp_client import check_contract, run
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION, sample_assistant_in
from tests.support.servers import cli_env


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
