"""/metrics scraped from a real server and read with prometheus-client's own parser: requests
by route and status, latencies, answered vs refused, LLM fallbacks, verification drops,
ingestion, index size, queue depth and 503s; and request ids on responses."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_llm import FakeLLM, Running, Seen
from tests.support.live_server import LiveServer, live_server
from tests.support.samples import NATO_QUESTION, TAIWAN_QUESTION, sample_assistant_in

TOKEN = "metrics-token-4c1d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVIDENCE = re.compile(r'<evidence id="(\d+)"[^>]*>\n(.*?)\n</evidence>', re.S)


def padded(seen: Seen) -> str:
    """One sentence its evidence supports, two it does not: verification drops two."""
    n = next(k for k, text in EVIDENCE.findall(seen.prompt) if "long-term support" in text)
    return (
        f"Stoltenberg said NATO will reaffirm its long-term support to Ukraine [{n}]. "
        f"NATO also agreed to send fighter jets and tanks to Kyiv next spring [{n}]. "
        "Analysts expect a ceasefire before the winter."
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with Running(FakeLLM(responder=padded)) as f:
        yield f


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("metrics")
    a = sample_assistant_in(
        tmp,
        api_token=TOKEN,
        llm="openai",
        llm_base_url=f"{fake.url}/v1",
        llm_model="fake-model",
        llm_timeout=5.0,
        llm_retries=0,
        llm_unsupported="drop",
        max_concurrent_requests=1,
        max_queued_requests=0,
    )
    with live_server(a, tmp, ui=False) as srv:
        yield srv


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(f"{url}/metrics", headers=AUTH, trust_env=False)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_a_mix_of_requests(server: LiveServer, fake: FakeLLM, tmp_path: Path) -> None:
    url = server.url
    ask = f"{url}/api/ask"
    with httpx.Client(timeout=60, trust_env=False) as c:
        assert c.get(f"{url}/metrics").status_code == 401  # behind the API credential
        first = c.post(ask, json={"question": NATO_QUESTION}, headers=AUTH)
        assert first.status_code == 200 and first.json()["verification"]["dropped"] == 2
        fake.status = 500  # the LLM fails: the extractive answer stands in, twice
        assert c.post(ask, json={"question": NATO_QUESTION}, headers=AUTH).json()["answered"]
        assert not c.post(ask, json={"question": TAIWAN_QUESTION}, headers=AUTH).json()["answered"]
        fake.status = 200
        assert c.post(ask, json={"question": "  "}, headers=AUTH).status_code == 422
        # The request id: the client's own is kept, otherwise one is made.
        r = c.get(f"{url}/health", headers={"X-Request-ID": "probe-17"})
        assert r.headers["x-request-id"] == "probe-17"
        made = c.get(f"{url}/health", headers={"X-Request-ID": "bad id; drop" + "x" * 80})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])

    fake.delay = 1.5  # one slot, no queue: while one answer is slow, the others get 503

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60, trust_env=False) as ac:

            async def one(delay: float) -> int:
                await asyncio.sleep(delay)
                r = await ac.post(ask, json={"question": NATO_QUESTION}, headers=AUTH)
                return r.status_code

            return list(await asyncio.gather(one(0), one(0.5), one(0.6)))

    try:
        statuses = asyncio.run(burst())
    finally:
        fake.delay = 0.0
    assert sorted(statuses) == [200, 503, 503]

    m = scrape(url)
    health = server.assistant.health()
    req = "assistant_http_requests_total"
    assert value(m, req, route="/api/ask", method="POST", status="200") == 4
    assert value(m, req, route="/api/ask", method="POST", status="422") == 1
    assert value(m, req, route="/api/ask", method="POST", status="503") == 2
    assert value(m, req, route="/metrics", method="GET", status="401") == 1
    assert value(m, req, route="/health", method="GET", status="200") == 2
    assert value(m, "assistant_http_request_seconds_count", route="/api/ask") == 7
    assert value(m, "assistant_answers_total", outcome="answered") == 3
    assert value(m, "assistant_answers_total", outcome="refused") == 1
    for h in ("question", "retrieve", "answer"):
        assert value(m, f"assistant_{h}_seconds_count") == 4
        assert value(m, f"assistant_{h}_seconds_sum") > 0
        assert value(m, f"assistant_{h}_seconds_bucket", le="+Inf") == 4
    assert value(m, "assistant_question_seconds_sum") >= value(m, "assistant_retrieve_seconds_sum")
    assert value(m, "assistant_llm_fallbacks_total", stage="answer") == 2
    assert value(m, "assistant_verification_sentences_total", result="dropped") == 4
    assert value(m, "assistant_verification_sentences_total", result="verified") == 2
    assert value(m, "assistant_question_errors_total", code="empty_question") == 1
    assert value(m, "assistant_ingest_runs_total", outcome="ok") == 1
    assert value(m, "assistant_ingest_documents_total", change="added") == 2
    assert value(m, "assistant_ingest_chunks_total", change="added") == health["chunks"]
    assert value(m, "assistant_index_documents") == health["documents"] == 2
    assert value(m, "assistant_index_chunks") == health["chunks"]
    assert value(m, "assistant_requests_rejected_total") == 2
    assert value(m, "assistant_requests_in_progress") == 0
    assert value(m, "assistant_requests_queued") == 0


def test_a_scrape_survives_a_broken_index(server: LiveServer) -> None:
    """A live value that cannot be read is left out; the rest of the scrape still works."""
    a = server.assistant
    metrics = a.metrics

    def broken() -> float:
        raise OSError("index folder gone")

    metrics.watch("assistant_index_documents", "Documents in the index.", broken)
    try:
        m = scrape(server.url)
        assert ("assistant_index_documents", ()) not in m
        assert value(m, "assistant_index_chunks") > 0
    finally:
        metrics.watch(
            "assistant_index_documents", "Documents in the index.", lambda: a.store.doc_count()
        )
