"""Secrets (API token, UI password, LLM key, Slack tokens) never reach logs or error output:
the redaction itself (the real commands at DEBUG level are
tests/integration/test_secrets_in_commands.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

import assistant.logs as logs
from tests.support.secrets import ALL_SECRETS, SECRETS, SLACK


@pytest.fixture
def fresh_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Redaction installed for one test, and the process's logging put back afterwards."""
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logs, "_redactor", logs.SecretRedactor())
    monkeypatch.setattr(logs, "_installed", False)
    yield
    logging.setLogRecordFactory(factory)


def _captured(logger: logging.Logger) -> tuple[io.StringIO, logging.Handler]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return out, handler


def test_every_record_of_every_logger_is_cleaned(
    fresh_redaction: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SLACK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ASSISTANT_API_TOKEN", SECRETS["api_token"])
    from assistant.settings import Settings

    logs.install_redaction(Settings())  # env secrets, plus the settings' own
    logs.redactor().add(SECRETS["ui_password"], SECRETS["llm_api_key"])
    # A library's logger, with a handler attached after redaction was installed.
    lib = logging.getLogger("some.library")
    out, handler = _captured(lib)
    try:
        lib.debug("headers: %s", {"Authorization": f"Bearer {SECRETS['api_token']}"})
        lib.info(
            "connecting with token=%s and key %r", SLACK["SLACK_BOT_TOKEN"], SECRETS["llm_api_key"]
        )
        lib.warning("password was " + SECRETS["ui_password"])
        lib.info(
            "unknown but shaped like secrets: xoxb-9999-8888-abcdefgh sk-abcdefghijklmnopqrstu"
        )
        try:
            raise RuntimeError(f"401 Incorrect API key provided: {SECRETS['llm_api_key']}")
        except RuntimeError:
            lib.exception("request failed for %s", SLACK["SLACK_SIGNING_SECRET"])
        lib.info("nothing secret here: 42 documents")
    finally:
        lib.removeHandler(handler)
    text = out.getvalue()
    assert not any(secret in text for secret in ALL_SECRETS), text
    assert "xoxb-9999" not in text and "sk-abcdefghij" not in text
    assert text.count("***") >= 7
    assert "Traceback" in text and "RuntimeError: 401 Incorrect API key provided: ***" in text
    assert "nothing secret here: 42 documents" in text


def test_short_values_are_not_searched_for() -> None:
    r = logs.SecretRedactor(["abc", "abcd"])
    assert r.redact("abc abcd abcde") == "abc *** ***e"


def test_secret_env_names() -> None:
    env = {"SLACK_BOT_TOKEN": "x1", "OPENAI_API_KEY": "x2", "MY_PASSWORD": "x3",
           "ASSISTANT_PORT": "7860", "TOKENIZERS_PARALLELISM": "no", "X_KEY_FILE": "p"}  # fmt: skip
    assert sorted(logs.secrets_from_env(env)) == ["x1", "x2", "x3"]
