"""Feeds: new items in, changed items replaced, 304s free, broken feeds reported while the
others go on, failed items retried, duplicates kept out."""

from __future__ import annotations

import time

from assistant.app import Assistant
from assistant.live.state import Feed
from tests.support.news_pages import STORM, Story, article_html, atom, rss, story
from tests.support.news_site import Site

FEED = "/feeds/local.xml"


def publish(site: Site, items: list[Story], path: str = FEED, **kw: object) -> str:
    for s in items:
        site.put(s.path(), article_html(s, site.base))
    return site.put(path, rss("Local news", site.base, items, **kw), "application/rss+xml")  # type: ignore[arg-type]


def article_requests(site: Site) -> list[str]:
    return [r.path.split("?")[0] for r in site.requests() if r.path.startswith("/local/")]


def test_a_feed_that_gains_two_items_ingests_exactly_those(web: Assistant, site: Site) -> None:
    items = [story(n) for n in range(3)]
    web.add_feed(publish(site, items))
    [poll] = web.watch_once().feeds
    assert (poll.status, poll.added, poll.title) == ("ok", 3, "Local news")
    assert sorted(article_requests(site)) == sorted(s.path() for s in items)
    site.log.clear()
    items = [story(3), story(4), *items]  # newest first, as feeds list them
    publish(site, items)
    [poll] = web.watch_once().feeds
    assert (poll.added, poll.updated, poll.unchanged) == (2, 0, 3)
    assert sorted(t for _, t, _ in poll.arrived) == sorted([story(3).title, story(4).title])
    assert sorted(article_requests(site)) == sorted([story(3).path(), story(4).path()])
    assert len(web.documents()) == 5
    [status] = web.feeds()
    assert status.items_ingested == 5 and status.last_error is None and status.last_poll
    # The citation links the article's canonical URL, not the feed's tracking link.
    answer = web.ask(f"What did the council of {story(4).title.split()[0]} approve?")
    assert answer.answered and {c.url for c in answer.citations} == {site.url(story(4).path())}


def test_an_unchanged_feed_costs_one_request_and_no_work(web: Assistant, site: Site) -> None:
    web.add_feed(publish(site, [story(0), story(1)]))
    web.watch_once()
    site.log.clear()
    revision = web.store.revision()
    [poll] = web.watch_once().feeds
    assert poll.status == "not modified"
    assert [r.path for r in site.requests()] == [FEED]
    assert site.requests()[0].headers.get("if-none-match")
    assert web.store.revision() == revision
    assert web.feeds()[0].last_result == "not modified"


def test_a_changed_item_replaces_its_document(web: Assistant, site: Site) -> None:
    first = story(7)
    web.add_feed(publish(site, [first, story(8)]))
    web.watch_once()
    doc_id = next(d["doc_id"] for d in web.documents() if d["title"] == first.title)
    changed = Story(
        first.slug,
        first.title,
        [
            "The council of Halden reversed its decision on Thursday and cancelled the new "
            "bus depot after the cost rose to 140 million crowns, council minutes show.",
            *first.paragraphs[1:],
        ],
        date=first.date,
        section=first.section,
        summary="Halden cancels the bus depot after costs soar.",
    )
    publish(site, [changed, story(8)])
    [poll] = web.watch_once().feeds
    assert (poll.added, poll.updated, poll.unchanged) == (0, 1, 1)
    assert len(web.documents()) == 2
    text = web.document_texts([doc_id])[doc_id]
    assert "cancelled the new bus depot" in text and first.paragraphs[0] not in text
    answer = web.ask("What did the council of Halden decide about the bus depot on Thursday?")
    assert answer.answered
    assert any("cancelled" in c.quote for c in answer.citations)
    assert all(first.paragraphs[0] not in c.quote for c in answer.citations)


def test_broken_feeds_are_reported_and_the_others_keep_going(tmp_path, site: Site) -> None:  # type: ignore[no-untyped-def]
    from tests.support.news_site import web_settings

    web = Assistant(web_settings(tmp_path, fetch_timeout=1.0, fetch_max_mb=1))
    good = publish(site, [story(0), story(1)])
    xml = "application/rss+xml"
    bad = {
        "invalid XML": site.put("/bad.xml", "<rss><channel><item><title>Broken <b></rss", xml),
        "HTTP 500": site.put("/500.xml", "boom", "text/plain", status=500),
        "timed out": site.put("/slow.xml", rss("Slow", site.base, [story(2)]), xml, delay=4),
        "larger than 1 MB": site.put("/huge.xml", b"", xml, stream_bytes=50 * 2**20),
        "private address": site.redirect("/moved.xml", "http://192.168.0.10/feed.xml"),
        "not an RSS or Atom feed": site.put("/page.html", article_html(STORM, site.base)),
    }
    for url in bad.values():
        web.add_feed(url)
    web.add_feed(good)
    report = web.watch_once()
    by_url = {p.url: p for p in report.feeds}
    assert by_url[good].added == 2 and by_url[good].status == "ok"
    for why, url in bad.items():
        assert by_url[url].status == "error", why
        assert why in (by_url[url].error or ""), (why, by_url[url].error)
    listed = {f.url: f for f in web.feeds()}
    for why, url in bad.items():
        assert why in (listed[url].last_error or "") and listed[url].failures == 1
    assert listed[good].last_error is None and listed[good].items_ingested == 2
    assert "error: HTTP 500" in report.summary()


def test_failed_polls_back_off(web: Assistant, site: Site) -> None:
    url = site.put("/500.xml", "boom", "text/plain", status=500)
    web.add_feed(url, "60s")
    waits = []
    for _ in range(4):
        feed = web.live_state.feed(url)
        assert feed is not None
        now = time.time()
        web.intake.poll_feed(feed, now)
        waits.append(round(feed.next_poll - now))
        web.live_state.save_feed(feed)
    assert waits == [60, 120, 240, 480]
    site.put("/500.xml", rss("Back", site.base, [story(0)]), "application/rss+xml")
    publish(site, [story(0)], path="/500.xml")
    feed = web.live_state.feed(url)
    assert feed is not None
    web.intake.poll_feed(feed, time.time())
    assert (feed.failures, feed.last_error, feed.items_ingested) == (0, "", 1)


def test_a_failed_article_is_retried_then_the_summary_is_taken(web: Assistant, site: Site) -> None:
    items = [story(0), story(1)]
    web.add_feed(publish(site, items))
    site.put(story(1).path(), "gone", "text/plain", status=404)
    [poll] = web.watch_once().feeds
    assert poll.added == 1 and poll.failed == [
        (site.url(story(1).path()) + "?utm_source=rss&utm_medium=feed", "HTTP 404 (gone)")
    ]
    status = web.feeds()[0]
    assert "1 item(s) failed, retried next poll" in (status.last_error or "")
    # The feed is read in full again (no validators kept) and the item tried again.
    site.log.clear()
    [poll] = web.watch_once().feeds
    assert poll.status == "ok" and len(poll.failed) == 1
    assert not site.requests(FEED)[0].headers.get("if-none-match")
    # Third failure: the feed's own summary stands in for the article.
    [poll] = web.watch_once().feeds
    assert poll.added == 1 and poll.failed == []
    doc = next(d for d in web.documents() if d["title"] == story(1).title)
    assert web.document_texts([doc["doc_id"]])[doc["doc_id"]] == story(1).paragraphs[0][:140]
    assert web.feeds()[0].last_error is None


def test_full_text_feeds_are_not_fetched_again(web: Assistant, site: Site) -> None:
    paragraphs = [
        f"Paragraph {n} about the harbour wall, its history and the engineers who built it "
        "in the last century."
        for n in range(12)
    ]
    long = Story("long-read", "A long read about the harbour", paragraphs, section="local")
    url = site.put(FEED, rss("Full", site.base, [long], full_text=True), "application/rss+xml")
    web.add_feed(url)
    [poll] = web.watch_once().feeds
    assert poll.added == 1 and article_requests(site) == []
    [doc] = web.documents()
    assert doc["url"] == site.url(long.path())
    assert (
        "Paragraph 11 about the harbour wall" in web.document_texts([doc["doc_id"]])[doc["doc_id"]]
    )


def test_the_same_story_in_two_feeds_is_one_document(web: Assistant, site: Site) -> None:
    shared = story(5)
    web.add_feed(publish(site, [shared, story(6)], path="/a.xml"))
    web.add_feed(publish(site, [shared], path="/b.xml", link_suffix="?utm_source=partner"))
    a, b = web.watch_once().feeds
    assert (a.added, b.added, b.unchanged) == (2, 0, 1)
    assert len(web.documents()) == 2


def test_atom_feeds_with_relative_links(web: Assistant, site: Site) -> None:
    items = [story(9), story(10)]
    for s in items:
        site.put(s.path(), article_html(s, site.base))
    web.add_feed(site.put("/atom.xml", atom("Atom news", site.base, items), "application/atom+xml"))
    [poll] = web.watch_once().feeds
    assert poll.added == 2 and poll.title == "Atom news"
    assert {d["url"] for d in web.documents()} == {site.url(s.path()) for s in items}


def test_remove_a_feed_keeps_or_purges_its_documents(web: Assistant, site: Site) -> None:
    web.add_feed(publish(site, [story(0)], path="/a.xml"))
    web.add_feed(publish(site, [story(1)], path="/b.xml"))
    web.watch_once()
    removed, _ = web.remove_feed(site.url("/a.xml"))
    assert removed.url == site.url("/a.xml") and len(web.documents()) == 2
    feed_b = web.feeds()[0]
    _, report = web.remove_feed(feed_b.id, purge=True)
    assert report.docs_removed == 1 and [d["title"] for d in web.documents()] == [story(0).title]
    assert web.feeds() == []


def test_claims_keep_a_feed_to_one_poller(web: Assistant, site: Site) -> None:
    url = publish(site, [story(0)])
    web.add_feed(url, "1h")
    state = web.live_state
    now = time.time()
    mine = state.claim_feed(url, "me", now, 600, force=False)
    assert mine is not None
    assert state.claim_feed(url, "other", now, 600, force=True) is None  # leased
    state.release_feed(mine)
    assert state.claim_feed(url, "other", now, 600, force=False) is not None  # due, free
    feed = state.feed(url)
    assert isinstance(feed, Feed) and feed.lease_owner == "other"
    # A poll that finished sets the next one an interval later; until then it is not due.
    web.intake.poll_feed(feed, now)
    state.release_feed(feed)
    assert state.claim_feed(url, "third", now + 10, 600, force=False) is None
    assert state.claim_feed(url, "third", now + 3601, 600, force=False) is not None
