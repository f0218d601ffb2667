"""Slack's message format: questions read from events, answers written as blocks within Slack's
limits, and the thread read back as conversation history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assistant.fronts.slack_messages import (
    ANSWER_EVENT,
    MESSAGE_BLOCKS,
    MESSAGE_CHARS,
    QUOTE_CHARS,
    SECTION_CHARS,
    answer_messages,
    mentions,
    plain_text,
    split_text,
    thread_history,
)
from assistant.settings import SECRET_FIELDS, Settings, env_name
from assistant.types import Answer, Citation

BOT = "UBOT0001"
BOT_ID = "BBOT0001"


def cite(n: int, quote: str, url: str | None = "https://example.org/a?x=1&y=2") -> Citation:
    return Citation(
        n=n,
        source=url or "reports/nato.txt",
        title="NATO <ministers> meet",
        url=url,
        published="2023-11-27",
        quote=quote,
        start=10 * n,
        end=10 * n + len(quote),
        doc_id="d1",
    )


def make_answer(text: str, citations: list[Citation], answered: bool = True) -> Answer:
    return Answer("Q?", "Q?", answered, text, citations, [], {})


def sections(messages: list[Any]) -> list[str]:
    return [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]


def test_plain_text_drops_the_bot_mention_and_reads_slack_markup() -> None:
    raw = (
        f"<@{BOT}>   What did <@U0BOB|bob> say about <https://x.org/p?a=1&amp;b=2|this> "
        "&amp; <#C0NEWS|news> &lt;today&gt;? <!here>"
    )
    assert plain_text(raw, BOT) == "What did @bob say about this & #news <today>?"
    assert plain_text("see <https://x.org/p>", BOT) == "see https://x.org/p"
    assert mentions(raw, BOT) and not mentions(raw, "UOTHER01")


def test_answer_has_markers_then_a_linked_dated_source_list_with_short_quotes() -> None:
    long_quote = "Stoltenberg said " + "word " * 100
    answer = make_answer(
        "From “NATO”, 2023-11-27: Allies & partners met [1]. He said more [2].",
        [cite(1, "Allies & partners met."), cite(2, long_quote), cite(3, "Local.", url=None)],
    )
    (msg,) = answer_messages(answer)
    text = "\n".join(sections([msg]))
    assert "Allies &amp; partners met [1]." in text  # escaped for mrkdwn, marker kept
    # One header per document: a link where there is a URL ('&', '<', '>' escaped) and the date.
    assert text.count("<https://example.org/a?x=1&amp;y=2|NATO &lt;ministers&gt; meet>") == 1
    assert "— 2023-11-27" in text
    assert ">*[1]* Allies &amp; partners met." in text
    quote2 = next(line for line in text.splitlines() if line.startswith(">*[2]*"))
    assert quote2.endswith("…") and len(quote2) <= len(">*[2]* ") + QUOTE_CHARS + 1
    # Without a URL: the title in bold and the file it came from.
    assert "*NATO &lt;ministers&gt; meet* — 2023-11-27 — `reports/nato.txt`" in text
    assert msg.metadata is not None and msg.metadata["event_type"] == ANSWER_EVENT
    assert [c["n"] for c in msg.metadata["event_payload"]["citations"]] == [1, 2, 3]
    assert "url" not in msg.metadata["event_payload"]["citations"][2]  # no nulls in metadata


def test_refusal_has_no_source_list() -> None:
    (msg,) = answer_messages(
        make_answer("The documents do not contain an answer to this question.", [], False)
    )
    assert sections([msg]) == ["The documents do not contain an answer to this question."]
    assert msg.metadata is not None and msg.metadata["event_payload"]["answered"] is False


def test_long_answers_are_split_within_slack_limits() -> None:
    paragraphs = [
        f"Paragraph {i}. " + ("Sentence with words. " * 60) + f"[{i}]" for i in range(1, 41)
    ]
    cits = [cite(i, f"Quote number {i} " + "x" * 300) for i in range(1, 41)]
    messages = answer_messages(make_answer("\n\n".join(paragraphs), cits))
    assert len(messages) > 1
    for m in messages:
        assert len(m.blocks) <= MESSAGE_BLOCKS
        assert sum(len(t) for t in sections([m])) <= MESSAGE_CHARS
        assert all(len(t) <= SECTION_CHARS for t in sections([m]))
        assert m.blocks[0]["type"] != "divider"
        assert 0 < len(m.text) <= MESSAGE_CHARS
    assert messages[0].metadata is not None
    assert all(m.metadata is None for m in messages[1:])
    joined = " ".join(sections(messages))
    assert all(f"Paragraph {i}." in joined for i in range(1, 41))
    assert all(f">*[{i}]* Quote number {i} " in joined for i in range(1, 41))


def test_split_text_prefers_paragraphs_then_sentences_and_cuts_words_last() -> None:
    text = "A" * 20 + "\n\n" + "b. " * 20
    assert split_text(text, 30) == ["A" * 20, "b. " * 9 + "b.", "b. " * 9 + "b."]
    # A paragraph break early in the window would waste the section: a later sentence end wins.
    assert split_text("A" * 5 + "\n\n" + "b. " * 9, 30)[0] == "A" * 5 + "\n\n" + "b. " * 7 + "b."
    assert split_text("x" * 70, 30) == ["x" * 30, "x" * 30, "x" * 10]
    assert split_text("   ", 30) == []


def posted(msg: Any, ts: str) -> dict[str, Any]:
    """A message as conversations.replies returns the bot's post."""
    d = {"type": "message", "user": BOT, "bot_id": BOT_ID, "text": msg.text, "ts": ts}
    if msg.metadata:
        d["metadata"] = msg.metadata
    return d


def test_thread_history_reads_the_bots_answers_back() -> None:
    quote = "Mr Stoltenberg said NATO stands with Ukraine."
    answer = Answer(
        "What did NATO pledge?",
        "What did NATO pledge?",
        True,
        f"{quote} [1]",
        [cite(1, quote)],
        [],
        {},
    )
    (msg,) = answer_messages(answer)
    thread = [
        {
            "type": "message",
            "user": "UALICE01",
            "text": f"<@{BOT}> What did NATO pledge?",
            "ts": "1.1",
        },
        posted(msg, "1.2"),
        {
            "type": "message",
            "bot_id": "BOTHER01",
            "subtype": "bot_message",
            "text": "hi",
            "ts": "1.3",
        },
        {"type": "message", "user": "UALICE01", "text": "and China?", "ts": "1.4"},
        {"type": "message", "user": "UALICE01", "text": "later", "ts": "1.5"},
    ]
    (turn,) = thread_history(thread, BOT, BOT_ID, before_ts="1.4")
    assert turn.question == "What did NATO pledge?"
    assert turn.standalone_question == "What did NATO pledge?"
    assert turn.citations == [cite(1, quote)]  # all fields, doc_id and offsets included

    # Metadata stripped: the turn is the question before it and the answer's text, and no
    # citations are made up from the rendered source list.
    (rebuilt,) = thread_history(
        [thread[0], posted(msg, "1.2") | {"metadata": None}], BOT, BOT_ID, "9"
    )
    assert rebuilt.question == "What did NATO pledge?"
    assert quote in rebuilt.answer
    assert rebuilt.citations == []


def test_slack_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("ASSISTANT_SLACK_API_URL", "http://127.0.0.1:9/proxy/api")
    s = Settings()
    assert s.slack.api_url == "http://127.0.0.1:9/proxy/api/"  # joined by urljoin: needs "/"
    assert s.public_dict()["slack_bot_token"] == "***"
    assert "xoxb-secret-value" not in repr(s)
    monkeypatch.setenv("ASSISTANT_SLACK_API_URL", "slack.com/api")
    with pytest.raises(ValidationError, match="http"):
        Settings()


def test_manifest_and_readme_cover_what_the_bot_uses() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    manifest = yaml.safe_load((root / "slack-manifest.yml").read_text(encoding="utf-8"))
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    # app_mention for mentions; message.* for DMs and unaddressed follow-ups in threads.
    assert {"app_mention", "message.im", "message.channels", "message.groups"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage needs chat:write; conversations.replies a *:history scope per kind.
    assert {"app_mentions:read", "chat:write", "channels:history", "groups:history"} <= scopes
    assert {"im:history", "mpim:history"} <= scopes
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True

    readme = (root / "README.md").read_text(encoding="utf-8")
    slack_fields = [f for f in Settings.flat_fields() if f.startswith("slack_")]
    for name in slack_fields:
        documented = env_name(name) if name in SECRET_FIELDS else name
        assert f"`{documented}`" in readme, f"README does not document {documented}"
    assert "slack-manifest.yml" in readme
