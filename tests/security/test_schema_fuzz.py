"""The JSON and OpenAI APIs fuzzed from their own OpenAPI schema (schemathesis strategies run
by hypothesis): valid and invalid requests alike get a status below 500, and get it (no hang).

The run is derandomized: the same cases each time, so a failure reproduces.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.security import BEARER, TOKEN, asgi_request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600), pytest.mark.usefixtures("loopback_only")]
EXAMPLES = 150  # per operation and mode


@pytest.fixture(scope="module")
def operations(sample_assistant: Assistant) -> dict[str, Any]:
    app = create_app(sample_assistant.with_settings(api_token=SecretStr(TOKEN)), ui=False)
    # schemathesis asks as "testserver", a name this server does not answer for (421)
    schema = schemathesis.openapi.from_asgi(
        "/api/openapi.json", app, headers={**BEARER, "Host": "localhost"}
    )
    ops = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}
    return {"app": app, **ops}


def call(app: Any, case: Any) -> Any:
    """``case`` sent to ``app`` in process, without running its lifespan for every call (MCP's
    session manager may only start once) and with lone surrogates kept as JSON escapes."""
    kw = case.as_transport_kwargs(base_url="http://localhost", headers=BEARER)
    if "json" in kw:
        content = json.dumps(kw["json"]).encode()
    else:
        data = kw.get("data")
        content = data if isinstance(data, bytes) else str(data or "").encode()
    return asgi_request(
        app,
        kw["method"],
        kw["url"].removeprefix("http://localhost"),
        content=content,
        params=kw.get("params") or None,
        headers=kw["headers"],
    )


# The routes that fetch URLs (feeds, JSON bodies to /api/documents) are left out: a fuzzer
# must not make the server reach for whatever hosts it invents.
LABELS = ["GET /health", "POST /api/ask", "GET /api/documents", "POST /api/documents",
          "GET /v1/models", "POST /v1/chat/completions"]  # fmt: skip
MEDIA = {"POST /api/documents": "multipart/form-data"}  # the upload, never a URL list


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name lookups and connections beyond loopback fail, whatever a generated case says."""
    real_lookup, real_connect = socket.getaddrinfo, socket.socket.connect

    def lookup(host: Any, *args: Any, **kw: Any) -> Any:
        if str(host) not in ("localhost", "127.0.0.1", "::1") and not str(host).startswith("127."):
            raise OSError(f"lookups beyond loopback are blocked in the fuzz: {host!r}")
        return real_lookup(host, *args, **kw)

    def connect(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else ""
        if sock.family != socket.AF_UNIX and not str(host).startswith(("127.", "::1")):
            raise OSError(f"connections beyond loopback are blocked in the fuzz: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket.socket, "connect", connect)


MODES = list(schemathesis.GenerationMode)
# Invalid requests can only be made of something: routes without parameters have none.
CASES = [(label, mode) for label in LABELS for mode in MODES
         if mode.value == "positive" or label.startswith("POST")]  # fmt: skip


def test_the_schema_lists_every_api_route(operations: dict[str, Any]) -> None:
    assert set(LABELS) <= set(operations)


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{lb}-{m.value}" for lb, m in CASES])
def test_no_request_gives_a_server_error(operations: dict[str, Any], label: str, mode: Any) -> None:
    seen: dict[int, int] = {}

    strategy = operations[label].as_strategy(generation_mode=mode, media_type=MEDIA.get(label))
    assert label not in MEDIA or strategy is not None

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = call(operations["app"], case)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        body = case.body if isinstance(case.body, (dict, list, str)) else repr(case.body)
        assert response.status_code < 500, (
            f"{label} {json.dumps(body)[:500]} -> {response.status_code} {response.text[:300]}"
        )

    run()
    statuses = dict(sorted(seen.items()))
    print(f"{label} {mode.value}: {sum(seen.values())} requests, statuses {statuses}")


# Any code point a JSON string can carry, lone surrogates and control characters included:
# hypothesis's text() leaves surrogates out unless told, and so do the schema's strategies.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
FILTERS = st.fixed_dictionaries(
    {}, optional={"since": ANY_TEXT, "until": ANY_TEXT, "sources": st.lists(ANY_TEXT, max_size=3)}
)
ASK = st.fixed_dictionaries(
    {"question": ANY_TEXT}, optional={"session_id": ANY_TEXT, "filters": FILTERS}
)
CONTENT = ANY_TEXT | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": ANY_TEXT}))
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system"]) | ANY_TEXT, "content": CONTENT}
)
CHAT = st.fixed_dictionaries(
    {"messages": st.lists(MESSAGE, min_size=1, max_size=4)},
    optional={"model": ANY_TEXT, "stream": st.booleans(), "filters": FILTERS},
)


@pytest.fixture(scope="module")
def secured_app(sample_assistant: Assistant) -> Any:
    return create_app(sample_assistant.with_settings(api_token=SecretStr(TOKEN)), ui=False)


@pytest.mark.parametrize(("path", "bodies"), [("/api/ask", ASK), ("/v1/chat/completions", CHAT)])
def test_any_json_string_in_any_field_gets_an_answer_or_a_4xx(
    secured_app: Any, path: str, bodies: Any
) -> None:
    seen: dict[int, int] = {}

    @given(body=bodies)
    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(body: dict[str, Any]) -> None:
        r = asgi_request(
            secured_app,
            "POST",
            path,
            content=json.dumps(body).encode(),  # lone surrogates travel as \\udXXX escapes
            headers={**BEARER, "Content-Type": "application/json"},
        )
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code < 500, f"{json.dumps(body)[:400]} -> {r.status_code} {r.text[:300]}"

    run()
    print(f"{path} any text: {sum(seen.values())} requests, statuses {dict(sorted(seen.items()))}")
