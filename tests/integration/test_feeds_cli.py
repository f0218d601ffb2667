"""`assistant ingest URL`, `assistant feeds add/list/remove` and `assistant watch --once`,
driven in-process through typer's CliRunner against the loopback site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.fronts.cli import app
from tests.support.news_pages import STORM, article_html, rss, story
from tests.support.news_site import Site

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[object]) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_FETCH_ALLOW_HOSTS", "127.0.0.1")
    return tmp_path / "idx"


def cli(*args: str, code: int = 0) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == code, r.output
    return r.stdout


def test_ingest_urls_from_arguments_and_a_file(env: Path, site: Site, tmp_path: Path) -> None:
    url = site.put(STORM.path(), article_html(STORM, site.base))
    out = cli("ingest", url + "?utm_source=x", "--index", str(env))
    assert "pages: 1 asked for, 0 not modified" in out
    assert f"added “{STORM.title}” — {site.url(STORM.path())}" in out
    listing = tmp_path / "links.txt"
    more = [story(1), story(2)]
    for s in more:
        site.put(s.path(), article_html(s, site.base))
    listing.write_text(
        "# morning links\n" + "\n".join([url] + [site.url(s.path()) for s in more]) + "\n"
    )
    data = json.loads(cli("ingest", "--urls", str(listing), "--index", str(env), "--json"))
    assert [u["status"] for u in data["urls"]] == ["not modified", "added", "added"]
    assert data["docs_added"] == 2 and data["urls_not_modified"] == 1
    assert data["files_seen"] == 0, "URLs alone do not ingest the corpus folder"


def test_ingest_fails_when_no_url_could_be_fetched(env: Path, site: Site) -> None:
    out = cli("ingest", site.url("/nothing-here"), "--index", str(env), code=1)
    assert "skipped " + site.url("/nothing-here") + ": HTTP 404" in out


def test_feeds_add_list_watch_remove(env: Path, site: Site) -> None:
    items = [story(0), story(1)]
    for s in items:
        site.put(s.path(), article_html(s, site.base))
    feed = site.put("/local.xml", rss("Local news", site.base, items), "application/rss+xml")
    broken = site.put("/broken.xml", "nope", "text/plain", status=500)
    out = cli("feeds", "add", feed, "--interval", "15m", "--index", str(env))
    assert "(not polled yet)  every 15m" in out and feed in out
    cli("feeds", "add", broken, "--index", str(env))
    assert "never polled" in cli("feeds", "list", "--index", str(env))

    out = cli("watch", "--once", "--index", str(env))
    assert "feed Local news: 2 new, 0 updated, 0 unchanged" in out
    assert f"  added “{items[0].title}” — {site.url(items[0].path())}" in out
    assert f"feed {broken}: error: HTTP 500 (nope)" in out

    listed = cli("feeds", "list", "--index", str(env))
    assert "Local news  every 15m" in listed and "2 item(s) ingested" in listed
    assert "last error: HTTP 500 (nope)" in listed
    rows = json.loads(cli("feeds", "list", "--json", "--index", str(env)))
    assert {r["url"]: r["items_ingested"] for r in rows} == {feed: 2, broken: 0}

    answer = cli("ask", "What did the council of Arvika approve?", "--index", str(env))
    assert site.url(items[0].path()) in answer

    feed_id = next(r["id"] for r in rows if r["url"] == broken)
    assert f"no longer following {broken}" in cli("feeds", "remove", feed_id, "--index", str(env))
    err = runner.invoke(app, ["feeds", "remove", "nope", "--index", str(env)])
    assert err.exit_code == 2 and "no followed feed 'nope'" in err.output
    bad = runner.invoke(app, ["feeds", "add", "ftp://x/feed", "--index", str(env)])
    assert bad.exit_code == 2 and "only http and https" in bad.output
    bad = runner.invoke(app, ["feeds", "add", feed, "--interval", "soon", "--index", str(env)])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_watch_once_follows_a_folder(env: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.txt").write_text("Harbour report\n\nThe harbour wall was repaired in May.\n")
    out = cli("watch", str(drop), "--once", "--index", str(env))
    assert "folders:" in out and "documents: 1 added" in out
    (drop / "a.txt").unlink()
    out = cli("watch", str(drop), "--once", "--index", str(env), "--json")
    assert json.loads(out)["folders"]["docs_removed"] == 1
    missing = runner.invoke(app, ["watch", str(tmp_path / "nope"), "--once", "--index", str(env)])
    assert missing.exit_code == 1 and "no such folder" in missing.output
