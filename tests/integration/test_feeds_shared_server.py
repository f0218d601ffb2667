"""Two `assistant serve` processes on one Chroma server follow the same feed: each item is
fetched and ingested once, by whichever claimed the feed, and both answer about it."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.news_pages import article_html, rss, story
from tests.support.news_site import Site
from tests.support.servers import chroma_server, cli_env, run_cli, start_serve, stop, wait_http

pytestmark = pytest.mark.slow


def publish(site: Site, n: int) -> list[str]:
    items = [story(i) for i in range(n)][::-1]  # newest first
    for s in items:
        site.put(s.path(), article_html(s, site.base))
    site.put("/wire.xml", rss("Wire", site.base, items), "application/rss+xml")
    return [s.path() for s in items]


def documents(url: str) -> list[dict[str, object]]:
    r = httpx.get(f"{url}/api/documents", timeout=60, trust_env=False)
    assert r.status_code == 200, r.text
    return list(r.json()["documents"])


def wait_for(url: str, count: int, procs: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 180
    while len(documents(url)) < count:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise AssertionError(
                f"{len(documents(url))} documents, expected {count}:\n"
                + "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
            )
        time.sleep(0.5)


def test_two_servers_ingest_each_item_of_a_feed_once(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "chroma") as chroma_url, Site().running() as site:
        env = cli_env(
            chroma_url=chroma_url,
            collection="feeds-two",
            fetch_allow_hosts="127.0.0.1",
            corpus_dir=str(tmp_path / "corpus"),
        )
        paths = publish(site, 3)
        added = run_cli(["feeds", "add", site.url("/wire.xml"), "--interval", "1s"], tmp_path, env)
        assert added.returncode == 0, added.stderr
        procs: list[subprocess.Popen[bytes]] = []
        urls, logs = [], []
        try:
            for _ in range(2):
                proc, url, log = start_serve(tmp_path, env)
                procs.append(proc)
                urls.append(url)
                logs.append(log)
            for url, proc in zip(urls, procs, strict=True):
                wait_http(f"{url}/health", 180, proc)
            wait_for(urls[0], 3, procs, logs)
            time.sleep(3)  # several more polls by each server: all answered "not modified"
            paths = publish(site, 6)  # three more items
            wait_for(urls[1], 6, procs, logs)
            time.sleep(3)
        finally:
            for proc in procs:
                stop(proc)  # type: ignore[arg-type]
        assert len(documents_after(chroma_url, tmp_path)) == 6
        fetched = [r.path.split("?")[0] for r in site.requests()]
        for path in paths:
            assert fetched.count(path) == 1, f"{path} fetched {fetched.count(path)} times"
        text = "".join(log.read_text(errors="replace") for log in logs)
        new = sum(int(n) for n in re.findall(r"feed Wire: (\d+) new", text))
        assert new == 6, text[-5000:]
        assert "Logging error" not in text and "Traceback" not in text
        feed_polls = site.count("/wire.xml")
        assert feed_polls >= 4  # both kept polling; the conditional ones cost nothing
        not_modified = [r for r in site.requests("/wire.xml") if r.headers.get("if-none-match")]
        assert not_modified, "later polls were conditional"


def documents_after(chroma_url: str, tmp_path: Path) -> list[str]:
    env = cli_env(chroma_url=chroma_url, collection="feeds-two")
    out = run_cli(["feeds", "list", "--json"], tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert '"items_ingested": 6' in out.stdout, out.stdout
    from assistant.app import Assistant
    from assistant.settings import Settings

    a = Assistant(Settings(chroma_url=chroma_url, collection="feeds-two", index_dir=tmp_path / "x"))
    return [d["source"] for d in a.documents()]
