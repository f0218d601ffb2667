"""Starting the Slack bot without what it needs: a clear error with the fix, no token shown.
(The bot itself, against a fake Slack, is tests/integration/test_slack.py.)"""

from __future__ import annotations

import sys

import pytest

from assistant.app import Assistant
from assistant.fronts.slack import SlackConfigError, slack_asgi_app
from assistant.settings import Settings

BOT_TOKEN = "xoxb-1111-TESTBOTTOKEN-never-log-me"
APP_TOKEN = "xapp-1-TESTAPPTOKEN-never-log-me"
SECRET = "TESTSIGNINGSECRET-never-log-me"


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)


def test_missing_slack_extra_gives_the_install_command(
    sample_assistant: Assistant, slack_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "slack_bolt", None)  # as if not installed
    with pytest.raises(SlackConfigError, match=r"pip install 'newsroom-assistant\[slack\]'"):
        slack_asgi_app(sample_assistant, Settings())


def test_assistant_slack_without_tokens_says_which_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from assistant.fronts.cli import app

    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    r = CliRunner().invoke(app, ["slack"])
    assert r.exit_code == 1
    assert "SLACK_BOT_TOKEN and SLACK_APP_TOKEN" in r.output
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    r = CliRunner().invoke(app, ["slack", "--http"])
    assert r.exit_code == 1
    assert "SLACK_SIGNING_SECRET" in r.output
    assert BOT_TOKEN not in r.output
