"""Fetching is safe: http(s) only, no private addresses (checked after DNS and on every
redirect), a deadline, a size cap, a redirect limit, a clear User-Agent, robots.txt."""

from __future__ import annotations

import gzip

import pytest

from assistant.errors import FetchFailed, InvalidUrl
from assistant.live.fetch import Fetcher, check_url
from assistant.live.intake import make_fetcher
from assistant.settings import LiveSettings
from tests.support.news_site import Site

PAGE = "<html><body><p>hello</p></body></html>"


def fetcher(allow: list[str] | None = None, **kw: object) -> Fetcher:
    settings = LiveSettings(fetch_allow_hosts=allow if allow is not None else ["127.0.0.1"], **kw)
    return make_fetcher(settings)  # with robots.txt, as ingestion uses it


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.org/file", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///nohost", "no host"),
        ("http://user:secret@example.org/", "user name or password"),
        ("", "empty URL"),
        ("http://example.org:99999/", "not a valid URL"),
    ],
)
def test_only_plain_http_urls(url: str, why: str) -> None:
    with pytest.raises(InvalidUrl, match=why):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.20/feed", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8000/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://100.64.0.1/", "non-public"),
        ("http://127.0.0.1:9/", "loopback"),
    ],
)
def test_private_addresses_are_refused_before_connecting(
    url: str, kind: str, no_network: list[object]
) -> None:
    with pytest.raises(FetchFailed, match=f"a {kind} address"):
        fetcher(allow=[]).get(url)
    assert no_network == [], "no connection may be attempted"


def test_loopback_is_refused_by_default_and_allowed_by_setting(site: Site) -> None:
    url = site.put("/a", PAGE)
    with pytest.raises(FetchFailed, match="loopback address.*fetch_allow_hosts"):
        fetcher(allow=[]).get(url)
    assert site.requests() == []
    for allow in (["127.0.0.1"], ["127.0.0.0/8"]):
        assert fetcher(allow=allow).get(url).body == PAGE.encode()


def test_a_name_is_checked_by_the_address_it_resolves_to(site: Site) -> None:
    url = site.url("/a").replace("127.0.0.1", "localhost")
    site.put("/a", PAGE)
    with pytest.raises(FetchFailed, match=r"localhost \(127\.0\.0\.1\): a loopback address"):
        fetcher(allow=[]).get(url)
    assert fetcher(allow=["localhost"]).get(url).status == 200


def test_a_redirect_to_a_private_address_is_refused(site: Site, no_network: list[object]) -> None:
    url = site.redirect("/go", "http://10.1.2.3/admin")
    with pytest.raises(FetchFailed, match=r"10\.1\.2\.3: a private address"):
        fetcher().get(url)
    site.redirect("/go2", "http://169.254.169.254/latest/meta-data/", status=301)
    with pytest.raises(FetchFailed, match="link-local"):
        fetcher().get(site.url("/go2"))
    assert no_network == []


def test_redirects_are_followed_up_to_the_limit(site: Site) -> None:
    site.put("/end", PAGE)
    for n in range(7):
        site.redirect(f"/r{n}", f"/r{n + 1}" if n < 6 else "/end")
    got = fetcher(fetch_max_redirects=7).get(site.url("/r0"))
    assert got.url == site.url("/end") and got.body == PAGE.encode()
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        fetcher(fetch_max_redirects=3).get(site.url("/r0"))


def test_timeout(site: Site) -> None:
    url = site.put("/slow", PAGE, delay=3.0)
    with pytest.raises(FetchFailed, match="timed out after 0.5 s"):
        fetcher(fetch_timeout=0.5).get(url)


def test_size_cap_on_an_endless_body(site: Site) -> None:
    url = site.put("/huge", b"", "application/rss+xml", stream_bytes=50 * 1024 * 1024)
    with pytest.raises(FetchFailed, match="larger than 1 MB"):
        fetcher(fetch_max_mb=1).get(url)


def test_size_cap_on_a_declared_length_and_on_a_compressed_bomb(site: Site) -> None:
    url = site.put("/big", b"x" * (2 * 1024 * 1024), "text/html")
    with pytest.raises(FetchFailed, match=r"larger than 1 MB \(2.0 MB declared\)"):
        fetcher(fetch_max_mb=1).get(url)
    bomb = gzip.compress(b"<p>" + b"a" * (8 * 1024 * 1024))
    assert len(bomb) < 100_000
    url = site.put("/bomb", bomb, "text/html", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchFailed, match="larger than 1 MB"):
        fetcher(fetch_max_mb=1).get(url)


def test_user_agent_and_conditional_requests(site: Site) -> None:
    url = site.put("/a", PAGE)
    f = fetcher(fetch_user_agent="newsroom-assistant/9 (test)")
    first = f.get(url)
    assert first.status == 200 and first.etag and first.last_modified
    again = f.get(url, etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.body == b""
    sent = site.requests("/a")
    assert {r.headers["user-agent"] for r in sent} == {"newsroom-assistant/9 (test)"}
    assert sent[-1].headers["if-none-match"] == first.etag


def test_http_errors_carry_their_status(site: Site) -> None:
    url = site.put("/gone", "server on fire", "text/plain", status=500)
    with pytest.raises(FetchFailed, match=r"HTTP 500 \(server on fire\)") as err:
        fetcher().get(url)
    assert err.value.http_status == 500
    site.put("/busy", "", status=503, headers={"Retry-After": "120"})
    with pytest.raises(FetchFailed) as err:
        fetcher().get(site.url("/busy"))
    assert err.value.retry_after == 120


ROBOTS = """User-agent: *
Disallow: /everyone-else

User-agent: newsroom-assistant
Disallow: /private/
"""


def test_robots_txt_is_honoured_and_read_once(site: Site) -> None:
    site.put("/robots.txt", ROBOTS, "text/plain")
    for path in ("/private/memo", "/public/a", "/public/b", "/everyone-else"):
        site.put(path, PAGE)
    f = fetcher()
    with pytest.raises(FetchFailed, match="robots.txt of 127.0.0.1:.* does not allow"):
        f.get(site.url("/private/memo"))
    # Our group names us, so the rules for everyone else do not apply to us.
    for path in ("/public/a", "/public/b", "/everyone-else"):
        assert f.get(site.url(path)).status == 200
    assert site.count("/robots.txt") == 1 and site.count("/private/memo") == 0
    assert fetcher(fetch_robots=False).get(site.url("/private/memo")).status == 200


def test_robots_txt_missing_allows_and_broken_refuses_for_now(site: Site) -> None:
    url = site.put("/a", PAGE)
    assert fetcher().get(url).status == 200  # no robots.txt (404): everything allowed
    site.put("/robots.txt", "oops", "text/plain", status=503)
    with pytest.raises(FetchFailed, match=r"robots.txt of .* could not be read \(HTTP 503"):
        fetcher().get(url)
