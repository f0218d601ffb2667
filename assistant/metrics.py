"""Prometheus metrics of one Assistant: what it answered, how fast, what it ingested.

Each ``Assistant`` owns a ``Metrics`` with its own registry (not prometheus-client's global
one), so several assistants in one process (tests, ``with_settings`` variants) never collide
and each server exposes exactly its own numbers. The core records questions and ingestion; a
front end records its requests (``observe_request``) and adds live values such as queue depth
(``watch``); ``/metrics`` serves ``render()``.

Names follow Prometheus conventions: seconds for durations, ``_total`` for counters (added by
the client library), bounded label values only (route templates, never raw paths).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

# Answering takes milliseconds without an LLM and seconds with one: buckets span both.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Live:
    """Values read at scrape time (index size, queue depth): a failing reader drops its sample
    and is logged, so one broken source never makes the whole scrape fail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: list[tuple[str, str, str, Callable[[], float]]] = []

    def add(self, kind: str, name: str, help_: str, read: Callable[[], float]) -> None:
        with self._lock:
            self._readers = [r for r in self._readers if r[1] != name]
            self._readers.append((kind, name, help_, read))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            readers = list(self._readers)
        for kind, name, help_, read in readers:
            try:
                value = float(read())
            except Exception as exc:  # the index may be missing or locked right now
                log.warning("metric %s unavailable: %s", name, exc)
                continue
            family: Metric
            if kind == "counter":
                family = CounterMetricFamily(name, help_, value=value)
            else:
                family = GaugeMetricFamily(name, help_, value=value)
            yield family

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic: nothing to check against at registration time


class Metrics:
    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.question_seconds = Histogram(
            "assistant_question_seconds",
            "Time to answer a question, from the call to the finished answer.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retrieve_seconds = Histogram(
            "assistant_retrieve_seconds",
            "Time spent retrieving passages for a question.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answer_seconds = Histogram(
            "assistant_answer_seconds",
            "Time spent composing (and verifying) an answer from the retrieved passages.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "assistant_answers",
            "Questions answered from the documents (outcome=answered) or refused because the "
            "documents do not contain the answer (outcome=refused).",
            ["outcome"],
            registry=r,
        )
        self.question_errors = Counter(
            "assistant_question_errors",
            "Questions that ended in an error, by error code (invalid_request, empty_index...).",
            ["code"],
            registry=r,
        )
        self.llm_fallbacks = Counter(
            "assistant_llm_fallbacks",
            "Times the offline path stood in for the LLM: it failed (stage=answer or "
            "condense), or its answer refused or lost its opening to verification "
            "(stage=verification).",
            ["stage"],
            registry=r,
        )
        self.verification = Counter(
            "assistant_verification_sentences",
            "Sentences of LLM answers by verification result (verified, marked, dropped, "
            "markers_removed).",
            ["result"],
            registry=r,
        )
        self.ingest_runs = Counter(
            "assistant_ingest_runs",
            "Ingestion runs, by outcome (ok, failed).",
            ["outcome"],
            registry=r,
        )
        self.ingest_documents = Counter(
            "assistant_ingest_documents",
            "Documents ingested, by change (added, updated, removed, unchanged).",
            ["change"],
            registry=r,
        )
        self.ingest_chunks = Counter(
            "assistant_ingest_chunks",
            "Chunks written or removed by ingestion.",
            ["change"],
            registry=r,
        )
        self.ingest_skipped = Counter(
            "assistant_ingest_skipped_files",
            "Files ingestion could not use (empty, binary, too large, unsupported...).",
            registry=r,
        )
        self.requests = Counter(
            "assistant_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "assistant_http_request_seconds",
            "HTTP request duration by route template (to the end of the response body).",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._live = _Live()
        r.register(self._live)

    # --- recorded by the core ---------------------------------------------------------------
    def observe_answer(
        self,
        answered: bool,
        timings_ms: dict[str, float],
        total_seconds: float,
        verification: dict[str, int] | None,
    ) -> None:
        self.answers.labels("answered" if answered else "refused").inc()
        self.question_seconds.observe(total_seconds)
        if "retrieve" in timings_ms:
            self.retrieve_seconds.observe(timings_ms["retrieve"] / 1000)
        if "answer" in timings_ms:
            self.answer_seconds.observe(timings_ms["answer"] / 1000)
        for result, count in (verification or {}).items():
            if count:
                self.verification.labels(result).inc(count)

    def observe_error(self, code: str) -> None:
        self.question_errors.labels(code).inc()

    def observe_fallback(self, stage: str) -> None:
        self.llm_fallbacks.labels(stage).inc()

    def observe_ingest(self, report: Any | None) -> None:
        """An ingestion run's ``IngestReport`` (None when the run failed)."""
        if report is None:
            self.ingest_runs.labels("failed").inc()
            return
        self.ingest_runs.labels("ok").inc()
        for change in ("added", "updated", "removed", "unchanged"):
            self.ingest_documents.labels(change).inc(getattr(report, f"docs_{change}"))
        self.ingest_chunks.labels("added").inc(report.chunks_added)
        self.ingest_chunks.labels("removed").inc(report.chunks_removed)
        self.ingest_skipped.inc(len(report.skipped))

    # --- recorded by front ends -------------------------------------------------------------
    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def watch(self, name: str, help_: str, read: Callable[[], float], kind: str = "gauge") -> None:
        """Report ``read()`` as gauge (or, with ``kind="counter"``, counter) ``name`` at every
        scrape; registering the same name again replaces the reader."""
        self._live.add(kind, name, help_, read)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)
