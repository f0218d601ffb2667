"""The server app under overload and cross-origin requests: 503 with a reason, no CORS
(driven in process through ASGITransport, with the app's real thread pool)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.asgi import in_process
from tests.support.samples import NATO_QUESTION, sample_assistant_in


def test_overload_is_refused_with_a_reason_and_health_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = sample_assistant_in(tmp_path, max_concurrent_requests=1, max_queued_requests=0)
    release, entered = threading.Event(), threading.Event()
    real_ask = Assistant.ask

    def held_ask(self: Assistant, *args: Any, **kw: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return real_ask(self, *args, **kw)

    monkeypatch.setattr(Assistant, "ask", held_ask)
    with in_process(create_app(a, ui=False), timeout=30) as client, ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, "/api/ask", json={"question": NATO_QUESTION})
        assert entered.wait(30)
        busy = client.post("/api/ask", json={"question": NATO_QUESTION})
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "server_busy"
        assert "1 requests in progress" in busy.json()["error"]["message"]
        assert int(busy.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200
        release.set()
        assert first.result(30).status_code == 200
        assert client.post("/api/ask", json={"question": NATO_QUESTION}).status_code == 200


def test_cors_is_off(tmp_path: Path) -> None:
    a = sample_assistant_in(tmp_path)
    with in_process(create_app(a, ui=False), timeout=30) as client:
        origin = {"Origin": "https://evil.example"}
        preflight = client.options(
            "/api/ask",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        r = client.post("/api/ask", json={"question": NATO_QUESTION}, headers=origin)
        assert r.status_code == 403  # another origin's page may not post (CSRF)
        assert not any(h.startswith("access-control-") for h in r.headers)
        r = client.post("/api/ask", json={"question": NATO_QUESTION})
        assert r.status_code == 200
        assert not any(h.startswith("access-control-") for h in r.headers)


def test_the_reliability_settings_are_documented() -> None:
    from assistant.settings import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    names = ["max_concurrent_requests", "max_queued_requests", "queue_timeout_seconds",
             "ingest_lease_seconds", "ingest_batch_chunks", "log_level"]  # fmt: skip
    for name in names:
        assert name in Settings.flat_fields()
        assert f"| `{name}` |" in readme, f"{name} is not in the README's settings tables"
