"""The live intake with its state in PostgreSQL: the feed tests of tests/feeds, run again on an
assistant with database_url (feeds, items seen, claims, duplicates across feeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.app import Assistant
from tests.feeds import test_feed_polling as polling
from tests.feeds.conftest import site, web_settings  # noqa: F401  (the `site` fixture)


@pytest.fixture
def web(tmp_path: Path, database_url: str, no_network: list[object]) -> Assistant:
    a = Assistant(web_settings(tmp_path, database_url=database_url))
    assert type(a.live_state).__name__ == "PgLiveState"
    return a


test_a_feed_that_gains_two_items_ingests_exactly_those = (
    polling.test_a_feed_that_gains_two_items_ingests_exactly_those
)
test_an_unchanged_feed_costs_one_request_and_no_work = (
    polling.test_an_unchanged_feed_costs_one_request_and_no_work
)
test_a_changed_item_replaces_its_document = polling.test_a_changed_item_replaces_its_document
test_the_same_story_in_two_feeds_is_one_document = (
    polling.test_the_same_story_in_two_feeds_is_one_document
)
test_remove_a_feed_keeps_or_purges_its_documents = (
    polling.test_remove_a_feed_keeps_or_purges_its_documents
)
test_claims_keep_a_feed_to_one_poller = polling.test_claims_keep_a_feed_to_one_poller
