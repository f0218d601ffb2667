"""Low-severity findings of the security review: each refused or neutralised, not crashed on
or passed through."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.app import Assistant
from assistant.fronts.http import create_app
from tests.support.fake_slack import event_body, sign
from tests.support.security import asgi_request

SLACK_SECRET = "review-signing-secret-3e1f"


# --- Slack: a malformed request timestamp is an unsigned request, not a crash ---------------------
@pytest.fixture(scope="module")
def slack_app(sample_assistant: Assistant) -> Any:
    pytest.importorskip("slack_bolt")
    a = sample_assistant.with_settings(
        slack_bot_token=SecretStr("xoxb-review-0000"),
        slack_signing_secret=SecretStr(SLACK_SECRET),
        slack_api_url="http://127.0.0.1:9/",  # never reached: nothing here is answered
    )
    app = create_app(a, ui=False)
    assert getattr(app.state, "slack", None) is not None
    return app


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "12.5", "١٢٣٤٥", "-1"])
def test_a_malformed_slack_timestamp_gets_401_and_no_traceback(
    slack_app: Any, timestamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = json.dumps(event_body({"type": "app_mention", "text": "hi"})).encode()
    # Signed over the malformed value, so only the timestamp itself can be what is refused.
    base = b"v0:" + timestamp.encode() + b":" + raw
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp.encode(),  # bytes: any header a client can send
        "X-Slack-Signature": signature,
    }
    with caplog.at_level(logging.DEBUG):
        r = asgi_request(slack_app, "POST", "/slack/events", content=raw, headers=headers)
    assert r.status_code == 401, r.text
    assert not [rec for rec in caplog.records if rec.exc_info or rec.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


def test_a_well_formed_slack_timestamp_still_reaches_the_signature_check(
    slack_app: Any,
) -> None:
    body = {"type": "url_verification", "challenge": "c-review", "token": "t"}
    raw = json.dumps(body).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(SLACK_SECRET, raw, ts),
    }
    r = asgi_request(slack_app, "POST", "/slack/events", content=raw, headers=headers)
    assert r.status_code == 200 and "c-review" in r.text
