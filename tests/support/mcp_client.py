"""The MCP SDK's own client, run to completion on a server (in process, stdio or HTTP)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import Client


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
