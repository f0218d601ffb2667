"""Secret values that tests plant (settings, environment) and then look for in every log and
output: distinctive enough that any leak is found by a plain substring search."""

from __future__ import annotations

SECRETS = {
    "api_token": "tok-Api-6f1c9e2b7d",
    "ui_password": "pw-Ui-41aa09c3",
    "llm_api_key": "sk-test-Llm-9b8e7d6c5b4a39281706",
}
SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-SlackBot77",
    "SLACK_APP_TOKEN": "xapp-1-A111-2222-SlackApp88",
    "SLACK_SIGNING_SECRET": "sig-Slack-0f0e0d0c0b0a",
}
ALL_SECRETS = [*SECRETS.values(), *SLACK.values()]
