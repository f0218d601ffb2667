"""URLs and feeds through the JSON API and the web UI, on the real server over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gradio_client import Client
from pydantic import SecretStr

from tests.support.live_server import LiveServer, live_server
from tests.support.news_pages import STORM, article_html, rss, story
from tests.support.news_site import LOOPBACK, Site
from tests.support.samples import sample_assistant_in

TOKEN = "feeds-token-8c1d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site().running() as s:
        yield s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("feeds-http")
    a = sample_assistant_in(tmp, api_token=SecretStr(TOKEN), fetch_allow_hosts=LOOPBACK)
    with live_server(a, tmp) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=120, trust_env=False) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/documents"),
        ("GET", "/api/feeds"),
        ("POST", "/api/feeds"),
        ("DELETE", "/api/feeds/abc"),
        ("POST", "/api/feeds/poll"),
    ],
)
def test_the_new_routes_need_the_token(server: LiveServer, method: str, path: str) -> None:
    r = httpx.request(method, server.url + path, json={"url": "http://x.org/"}, trust_env=False)
    assert r.status_code == 401


def test_post_a_url_to_documents(http: httpx.Client, site: Site) -> None:
    url = site.put(STORM.path(), article_html(STORM, site.base))
    r = http.post("/api/documents", json={"url": url + "?utm_medium=email"})
    assert r.status_code == 201, r.text
    [got] = r.json()["urls"]
    assert (got["status"], got["source"], got["title"], got["indexed"]) == (
        "added",
        url,
        STORM.title,
        True,
    )
    assert r.json()["report"]["arrived"] == [
        {"status": "added", "title": STORM.title, "source": url}
    ]
    docs = http.get("/api/documents").json()["documents"]
    assert any(d["url"] == url for d in docs)
    again = http.post("/api/documents", json={"urls": [url]}).json()
    assert again["urls"][0]["status"] == "not modified"


def test_urls_that_cannot_be_indexed(http: httpx.Client, site: Site) -> None:
    r = http.post("/api/documents", json={"urls": ["ftp://x/y", "http://10.0.0.3/"]})
    assert r.status_code == 422
    body = r.json()
    assert "nothing could be indexed" in body["error"]["message"]
    assert [u["indexed"] for u in body["urls"]] == [False, False]
    assert "private address" in body["urls"][1]["reason"]
    assert http.post("/api/documents", json={"url": "x", "extra": 1}).status_code == 422
    assert http.post("/api/documents", json={}).status_code == 422
    # The multipart upload on the same path still works beside the JSON route.
    up = http.post("/api/documents", files=[("files", ("note.txt", b"Tide note\n\nHigh tide."))])
    assert up.status_code == 201, up.text


def test_feeds_through_the_api(http: httpx.Client, site: Site) -> None:
    items = [story(20), story(21)]
    for s in items:
        site.put(s.path(), article_html(s, site.base))
    url = site.put("/api-feed.xml", rss("API feed", site.base, items), "application/rss+xml")
    r = http.post("/api/feeds", json={"url": url, "interval": "30m"})
    assert r.status_code == 201, r.text
    assert (r.json()["interval"], r.json()["last_poll"]) == (1800, None)
    assert http.post("/api/feeds", json={"url": "gopher://x"}).status_code == 422
    assert http.post("/api/feeds", json={"url": url, "interval": "0s"}).status_code == 422
    polled = http.post("/api/feeds/poll").json()
    [mine] = [f for f in polled["feeds"] if f["url"] == url]
    assert (mine["status"], mine["added"]) == ("ok", 2)
    listed = http.get("/api/feeds").json()
    [feed] = [f for f in listed["feeds"] if f["url"] == url]
    assert feed["items_ingested"] == 2 and feed["title"] == "API feed" and feed["last_poll"]
    assert http.delete("/api/feeds/nope").status_code == 404
    gone = http.delete(f"/api/feeds/{feed['id']}", params={"purge": "true"})
    assert gone.status_code == 200 and gone.json()["report"]["docs_removed"] == 2
    assert all(f["url"] != url for f in http.get("/api/feeds").json()["feeds"])


def test_the_web_ui_fetches_urls_and_follows_feeds(server: LiveServer, site: Site) -> None:
    s = story(30)
    site.put(s.path(), article_html(s, site.base))
    feed_items = [story(31)]
    site.put(story(31).path(), article_html(story(31), site.base))
    feed = site.put("/ui-feed.xml", rss("UI feed", site.base, feed_items), "application/rss+xml")
    c = Client(server.url + "/", verbose=False, download_files=False, headers=AUTH)
    try:
        status, table, box = c.predict(
            site.url(s.path()) + "\nhttp://10.9.9.9/x", api_name="/fetch_urls"
        )
        assert 'aria-label="done"' in status and f"<strong>{s.title}</strong>: added" in status
        assert 'aria-label="failed"' in status and "private address" in status and box == ""
        assert s.title in [row[0] for row in table["data"]]
        note, feeds, box = c.predict(feed, api_name="/add_feed")
        assert "Following" in note and box == ""
        assert any(row[1] == feed and row[3] == "never" for row in feeds["data"])
        summary, feeds, _docs = c.predict(api_name="/poll_feeds")
        assert "UI feed: 1 new" in summary
        [row] = [r for r in feeds["data"] if r[1] == feed]
        assert (row[0], row[4], row[6]) == ("UI feed", 1, "")
    finally:
        c.close()
