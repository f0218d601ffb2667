"""What the server adds to an answer's latency, and what concurrent requests cost.

    .venv/bin/python benchmarks/serve_latency.py [--runs N]

Builds an index of the sample corpus in a temp dir, starts the real server (uvicorn, FastAPI,
Gradio) on a loopback port in this process, and times the same question asked in-process
(the baseline), through /api/ask, through the official openai client (plain and streaming) and
through gradio_client's /respond; then batches of questions sent 4 at a time against one
after another.
Prints medians in milliseconds and the ratio to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import assistant  # noqa: F401  (offline switches first)

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What support did NATO pledge to Ukraine?"


def medians_ms(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Round-robin, so that load from other processes affects every path alike."""
    for fn in fns:
        fn()  # warm
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append((time.perf_counter() - t0) * 1000)
    return [statistics.median(t) for t in times]


def main() -> None:
    import httpx
    import openai
    import uvicorn
    from gradio_client import Client

    from assistant.app import Assistant
    from assistant.fronts.http import create_app
    from assistant.settings import Settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    try:
        shutil.copytree(ROOT / "corpus", tmp / "corpus")
        a = Assistant(Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus"))
        a.ingest()
        a.warm_up()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(create_app(a), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        http = httpx.Client(base_url=url, timeout=120)
        oai = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        gc = Client(url + "/", verbose=False, download_files=False)
        msgs: list = [{"role": "user", "content": QUESTION}]

        def plain() -> None:
            oai.chat.completions.create(model="m", messages=msgs)

        def stream() -> None:
            for _ in oai.chat.completions.create(model="m", messages=msgs, stream=True):
                pass

        rows = [
            ("in-process Assistant.ask (baseline)", lambda: a.ask(QUESTION)),
            ("POST /api/ask", lambda: http.post("/api/ask", json={"question": QUESTION})),
            ("openai chat.completions", plain),
            ("openai chat.completions, stream", stream),
            ("gradio_client /respond", lambda: gc.predict(QUESTION, api_name="/respond")),
        ]
        medians = medians_ms([fn for _, fn in rows], runs)
        results = [(name, ms) for (name, _), ms in zip(rows, medians, strict=True)]
        base = results[0][1]
        print(f"sample corpus, {runs} runs each, median ms (ratio to in-process)")
        print(f"{'path':<40} {'median ms':>10} {'ratio':>7}")
        for name, ms in results:
            print(f"{name:<40} {ms:>10.1f} {ms / base:>7.2f}")

        def one() -> None:
            http.post("/api/ask", json={"question": QUESTION}).raise_for_status()

        n = 8

        def sequential() -> None:
            for _ in range(n):
                one()

        def four_at_a_time() -> None:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: one(), range(n)))

        seq, par = (ms / n for ms in medians_ms([sequential, four_at_a_time], max(3, runs // 4)))
        print(f"\nbatches of {n} /api/ask requests: median wall ms per request")
        print(f"{'one after another':<40} {seq:>10.1f} {1.0:>7.2f}")
        print(f"{'4 at a time':<40} {par:>10.1f} {par / seq:>7.2f}")
        gc.close()
        server.should_exit = True
        thread.join(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
