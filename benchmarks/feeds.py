"""How long from polling a feed to answering about its items, against ingesting the same
articles as local files.

    .venv/bin/python benchmarks/feeds.py [--items 10 50] [--repeat 3]

A loopback web site serves a feed of N summary-only items and the N article pages behind them
(with navigation, ads and comments around each article). Each run starts from an empty index
with the embedding model already loaded, polls the feed once (`watch --once`: the feed, N
robots-checked article fetches, extraction, embedding, writing) and asks a question only the
last item answers; the clock stops when the answer cites that item's canonical URL. The
baseline, measured in the same run: the same N pages saved as .html files and ingested with
`assistant ingest`, then the same question. A third figure is the next poll of the unchanged
feed (one conditional request, answered 304). Medians over --repeat runs, interleaved.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import assistant  # noqa: F401  (offline switches first)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def answerable(a: object, question: str, url: str) -> bool:
    answer = a.ask(question)  # type: ignore[attr-defined]
    return bool(answer.answered) and url in {c.url for c in answer.citations}


def one_run(n: int, tmp: Path, embedder: object) -> dict[str, float]:
    from assistant.app import Assistant
    from assistant.settings import Settings
    from tests.support.news_pages import article_html, rss, story
    from tests.support.news_site import Site

    items = [story(i) for i in range(n)]
    last = items[-1]
    question = f"What did the council of {last.title.split(' approves')[0]} approve?"
    with Site().running() as site:
        for s in items:
            site.put(s.path(), article_html(s, site.base))
        site.put("/feed.xml", rss("Bench", site.base, items[::-1]), "application/rss+xml")
        feed = Assistant(
            Settings(index_dir=tmp / "feed-index", corpus_dir=tmp / "none",
                     fetch_allow_hosts=["127.0.0.1"])
        )  # fmt: skip
        feed.__dict__["embedder"] = embedder
        feed.add_feed(site.url("/feed.xml"))
        t0 = time.perf_counter()
        report = feed.watch_once()
        assert report.feeds[0].added == n, report.summary()
        assert answerable(feed, question, site.url(last.path()))
        polled = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = feed.watch_once()
        repoll = time.perf_counter() - t0
        assert again.feeds[0].status == "not modified"

        files = tmp / "files"
        files.mkdir()
        for s in items:
            (files / f"{s.slug}.html").write_text(article_html(s, site.base), encoding="utf-8")
    local = Assistant(Settings(index_dir=tmp / "file-index", corpus_dir=files))
    local.__dict__["embedder"] = embedder
    t0 = time.perf_counter()
    assert local.ingest([files]).docs_added == n
    assert local.ask(question).answered
    ingested = time.perf_counter() - t0
    return {"feed": polled, "files": ingested, "repoll": repoll}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from assistant.index.embedding import make_embedder
    from assistant.settings import Settings

    embedder = make_embedder(Settings())
    embedder.get_text_embedding("warm up")
    rows = []
    for n in args.items:
        runs = []
        for _ in range(args.repeat):
            tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
            try:
                runs.append(one_run(n, tmp, embedder))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        med = {k: statistics.median(r[k] for r in runs) for k in ("feed", "files", "repoll")}
        rows.append((n, med))
    print(f"feed poll to answerable vs the same pages as local files; medians of {args.repeat}")
    head = (
        f"{'items':>5} {'feed: poll->answer s':>21} {'files: ingest->answer s':>24} "
        f"{'ratio':>6} {'re-poll (304) s':>16}"
    )
    print(head)
    print("-" * len(head))
    for n, med in rows:
        print(
            f"{n:>5} {med['feed']:>21.2f} {med['files']:>24.2f} "
            f"{med['feed'] / med['files']:>6.2f} {med['repoll']:>16.3f}"
        )


if __name__ == "__main__":
    main()
