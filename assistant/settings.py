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
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The groups are part of this module's surface: `from assistant.settings import IndexSettings`.
from assistant.settings_groups import GROUPS as GROUPS
from assistant.settings_groups import AnswerSettings as AnswerSettings
from assistant.settings_groups import IndexSettings as IndexSettings
from assistant.settings_groups import LiveSettings as LiveSettings
from assistant.settings_groups import LLMSettings as LLMSettings
from assistant.settings_groups import RetrievalSettings as RetrievalSettings
from assistant.settings_groups import ServerSettings as ServerSettings
from assistant.settings_groups import SlackSettings as SlackSettings

ENV_PREFIX = "ASSISTANT_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

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
            "first_token_timeout",
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


def config_file() -> Path:
    """The config file settings are read from (it need not exist)."""
    return Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))


class _Toml(TomlConfigSettingsSource):
    """The TOML file, flat or grouped, refusing secrets: files get committed and shared, and a
    key left in one would otherwise be used silently."""

    def __init__(self, settings_cls: type[BaseSettings], toml_file: Path) -> None:
        import tomllib

        try:
            super().__init__(settings_cls, toml_file=toml_file)
        except tomllib.TOMLDecodeError as exc:
            # tomllib says where, not in which file: a user may not know one is read at all
            raise ValueError(f"{toml_file}: not valid TOML: {exc}") from None

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
            _Toml(settings_cls, toml_file=config_file()),
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
