"""Slack bot latency: how fast events are acknowledged and answered, against asking the
Assistant directly in the same process (the baseline).

    python benchmarks/slack_latency.py [--runs 15]

The real bolt app is served over HTTP on loopback against the fake Slack Web API of the tests;
the index is built from corpus/ in a temp dir. Prints medians and ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assistant  # noqa: E402,F401  (offline switches first)
from assistant.app import Assistant  # noqa: E402
from assistant.fronts.slack import slack_asgi_app  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from tests.support.fake_slack import BOT_USER, FakeSlack, event_body, post_event  # noqa: E402

QUESTIONS = [
    "What support did NATO pledge to Ukraine?",
    "What did Stoltenberg say about Finland?",
    "What equipment has NATO been delivering to Ukraine?",
]
SECRET = "bench-signing-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="questions timed per path")
    runs = parser.parse_args().runs

    import uvicorn
    from fastapi import FastAPI

    tmp = Path(tempfile.mkdtemp(prefix="slack-bench-"))
    fake = FakeSlack()
    try:
        shutil.copytree(ROOT / "corpus", tmp / "corpus")
        os.environ.update(
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SECRET,
            ASSISTANT_SLACK_API_URL=fake.url,
        )
        settings = Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus")
        a = Assistant(settings)
        a.ingest()
        slack = slack_asgi_app(a, settings)
        api = FastAPI()
        api.add_route("/slack/events", slack, methods=["POST"])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
        server = uvicorn.Server(uvicorn.Config(api, log_level="warning", lifespan="off"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        while not server.started:
            time.sleep(0.01)

        def via_slack(question: str, channel: str) -> tuple[float, float]:
            msg = fake.add_message(channel, f"<@{BOT_USER}> {question}")
            t0 = time.perf_counter()
            r = post_event(url, SECRET, event_body({**msg, "type": "app_mention"}))
            ack = time.perf_counter() - t0
            assert r.status_code == 200, r.text
            fake.wait_for(lambda: fake.posts(channel, msg["ts"]), timeout=120)
            return ack, time.perf_counter() - t0

        for i, q in enumerate(QUESTIONS):  # load models, fill caches, run auth.test once
            a.ask(q)
            via_slack(q, f"CWARM{i}")

        direct, acks, replies = [], [], []
        for i in range(runs):
            q = QUESTIONS[i % len(QUESTIONS)]
            t0 = time.perf_counter()
            a.ask(q)
            direct.append(time.perf_counter() - t0)
            ack, reply = via_slack(q, f"CBENCH{i}")
            acks.append(ack)
            replies.append(reply)
        server.should_exit = True
    finally:
        fake.close()
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(direct)
    print(f"slack bot latency, {runs} questions, median of each (sample corpus, loopback)")
    print(f"{'path':<44}{'median ms':>10}{'vs ask()':>10}")
    for name, values in (
        ("Assistant.ask() directly (baseline)", direct),
        ("event POST -> ack (HTTP 200)", acks),
        ("event POST -> threaded reply posted", replies),
    ):
        m = statistics.median(values)
        print(f"{name:<44}{m * 1000:>10.1f}{m / base:>10.2f}")


if __name__ == "__main__":
    main()
