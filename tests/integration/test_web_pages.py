"""Web pages in: the article without the site around it, with its metadata; the citation
links the canonical URL; an unchanged page costs one request and no embedding."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from assistant.errors import InvalidRequest
from assistant.live.articles import canonical_url, extract_article, same_site
from tests.support.news_pages import STORM, Story, article_html, rss
from tests.support.news_site import Site

FURNITURE = [
    "Advertisement", "Miracle Gadget", "newsletter", "morning briefing", "sunnyday77",
    "crypto", "Comments", "Related stories", "Last winter's storm", "Ferry services",
    "All rights reserved", "Privacy", "Breaking", "Home", "Sport",
]  # fmt: skip
BASE = "https://gazette.example.org"


def test_the_article_comes_out_clean_with_its_metadata(no_network: list[object]) -> None:
    # Extraction (trafilatura, htmldate, courlan) works from what their packages ship.
    page = article_html(STORM, BASE).encode()
    art = extract_article(page, BASE + STORM.path() + "?utm_source=rss", "text/html")
    for paragraph in STORM.paragraphs:
        assert paragraph in art.text
    for junk in FURNITURE:
        assert junk not in art.text, junk
    assert art.title == STORM.title
    assert art.authors == ["Maria Lindqvist"]
    assert art.published == "2024-05-14"
    assert art.url == BASE + STORM.path()
    assert art.site == "The Harbour Gazette"
    assert "\n\n" in art.text  # paragraphs stay apart, as in every document
    assert no_network == []


def test_the_canonical_url_must_be_on_the_pages_own_site() -> None:
    assert canonical_url(None, "https://a.example.org/x?utm_source=feed&id=3#top") == (
        "https://a.example.org/x?id=3",
        "",
    )
    assert canonical_url("https://www.example.co.uk/s", "https://news.example.co.uk/s?x=1")[0] == (
        "https://www.example.co.uk/s"
    )
    # A page may not pass itself off as another site's story.
    url, refused = canonical_url("https://reuters.example.com/real", "https://evil.example.net/p")
    assert (url, refused) == ("https://evil.example.net/p", "https://reuters.example.com/real")
    assert not same_site("https://evil.co.uk/a", "https://bbc.co.uk/a")
    fake = Story("fake", "Fake", STORM.paragraphs, canonical="https://other.example.com/s")
    art = extract_article(article_html(fake, BASE).encode(), BASE + fake.path(), "text/html")
    assert art.url == BASE + fake.path() and art.claimed_canonical == "https://other.example.com/s"


def test_not_an_article() -> None:
    with pytest.raises(Exception, match="this is a feed"):
        extract_article(rss("F", BASE, [STORM]).encode(), BASE + "/feed", "application/rss+xml")
    with pytest.raises(Exception, match=r"not a web page \(application/pdf\)"):
        extract_article(b"%PDF-1.4", BASE + "/a.pdf", "application/pdf")
    with pytest.raises(Exception, match="no article text"):
        extract_article(
            b"<html><body><nav>Home World Sport</nav></body></html>", BASE + "/", "text/html"
        )


def test_ingest_a_page_and_cite_its_canonical_url(web: Assistant, site: Site) -> None:
    site.put(STORM.path(), article_html(STORM, site.base))
    link = site.url(STORM.path()) + "?utm_source=newsletter&utm_campaign=may"
    results, report = web.ingest_urls([link])
    canonical = site.url(STORM.path())
    assert [(r.status, r.source, r.title) for r in results] == [("added", canonical, STORM.title)]
    assert report.docs_added == 1 and report.arrived == [("added", STORM.title, canonical)]
    assert "added “Storm floods harbour towns" in report.summary()
    [doc] = web.documents()
    assert (doc["url"], doc["source"], doc["published"]) == (canonical, canonical, "2024-05-14")
    text = web.document_texts([doc["doc_id"]])[doc["doc_id"]]
    for junk in FURNITURE:
        assert junk not in text
    answer = web.ask("How many homes lost power when the storm hit the harbour towns?")
    assert answer.answered
    assert {c.url for c in answer.citations} == {canonical}
    assert any("40,000 homes" in c.quote for c in answer.citations)


def test_an_unchanged_page_costs_one_request_and_no_embedding(web: Assistant, site: Site) -> None:
    url = site.put(STORM.path(), article_html(STORM, site.base))
    web.ingest_urls([url])
    before = (len(site.requests()), web.store.revision())
    results, report = web.ingest_urls([url])
    assert [r.status for r in results] == ["not modified"]
    assert results[0].title == STORM.title
    assert (report.urls_not_modified, report.chunks_added, report.docs_unchanged) == (0 + 1, 0, 1)
    requests = site.requests()[before[0] :]
    assert [r.path for r in requests] == [STORM.path()]  # robots.txt was remembered
    assert requests[0].headers.get("if-none-match")
    assert web.store.revision() == before[1], "nothing was written"


def test_a_server_without_validators_still_costs_no_embedding(web: Assistant, site: Site) -> None:
    url = site.put(STORM.path(), article_html(STORM, site.base), conditional=False)
    web.ingest_urls([url])
    revision = web.store.revision()
    results, report = web.ingest_urls([url])
    assert results[0].status == "not modified" and report.chunks_added == 0
    assert web.store.revision() == revision


def test_a_changed_page_replaces_its_document(web: Assistant, site: Site) -> None:
    url = site.put(STORM.path(), article_html(STORM, site.base))
    web.ingest_urls([url])
    newer = Story(
        STORM.slug,
        STORM.title,
        [*STORM.paragraphs[:1], "Power has since been restored to all but 900 homes, the "
         "grid operator said on Thursday evening."],
    )  # fmt: skip
    site.put(STORM.path(), article_html(newer, site.base))
    results, report = web.ingest_urls([url])
    assert results[0].status == "updated" and report.docs_updated == 1
    [doc] = web.documents()
    text = web.document_texts([doc["doc_id"]])[doc["doc_id"]]
    assert "all but 900 homes" in text and "Anna Berg" not in text


def test_a_bad_page_never_stops_the_others(web: Assistant, site: Site) -> None:
    good = site.put(STORM.path(), article_html(STORM, site.base))
    feed = site.put("/feed.xml", rss("Gazette", site.base, [STORM]), "application/rss+xml")
    results, report = web.ingest_urls(
        [site.url("/missing"), "ftp://example.org/x", "http://10.0.0.7/", feed, good]
    )
    by_url = {r.url: r for r in results}
    assert by_url[good].status == "added"
    assert by_url[site.url("/missing")].reason == "HTTP 404 (not found)"
    assert "only http and https" in (by_url["ftp://example.org/x"].reason or "")
    assert "private address" in (by_url["http://10.0.0.7/"].reason or "")
    assert "feeds add" in (by_url[feed].reason or "")
    assert report.docs_added == 1 and len(report.skipped) == 4


def test_the_same_story_under_two_urls_is_one_document(web: Assistant, site: Site) -> None:
    site.put(STORM.path(), article_html(STORM, site.base))
    copy = Story("syndicated-copy", STORM.title, STORM.paragraphs, section="partner")
    site.put(copy.path(), article_html(copy, site.base))
    results, _ = web.ingest_urls([site.url(STORM.path()), site.url(copy.path())])
    assert [r.status for r in results] == ["added", "duplicate"]
    assert results[1].reason == f"same text as {site.url(STORM.path())}"
    assert len(web.documents()) == 1


def test_too_many_urls_is_refused(web: Assistant) -> None:
    with pytest.raises(InvalidRequest, match="101 URLs"):
        web.ingest_urls([f"https://example.org/{n}" for n in range(101)])


def test_a_page_claiming_another_pages_address_on_its_site_replaces_nothing(
    web: Assistant, site: Site
) -> None:
    # Security review, finding 1: the address a page was fetched from names it, not its say-so.
    real = site.put(STORM.path(), article_html(STORM, site.base))
    web.ingest_urls([real])
    [before] = web.documents()
    planted = Story(
        "comment-42",
        STORM.title,
        ["NATO agreed to end all support for Ukraine, the harbour towns were told on Tuesday."] * 3,
        section="readers",
        canonical=real,
    )
    fake = site.put(planted.path(), article_html(planted, site.base))
    results, report = web.ingest_urls([fake])
    assert report.docs_updated == 0 and report.docs_added == 1
    docs = {d["source"]: d for d in web.documents()}
    assert docs[real]["doc_id"] == before["doc_id"] and docs[real]["chunks"] == before["chunks"]
    assert docs[fake]["url"] == fake and docs[fake]["claimed_url"] == real
    text = web.document_texts([before["doc_id"]])[before["doc_id"]]
    assert "end all support" not in text
