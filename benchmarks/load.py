"""Load on the server: N concurrent clients asking questions, for a bounded time and count.

    .venv/bin/python benchmarks/load.py [--clients 1 8 32] [--duration 20] [--requests 2000]
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:7860 [--pid PID] [--token T]

Without ``--url`` it builds an index of ``corpus/`` in a temp dir and starts ``assistant
serve`` itself on a free loopback port (with the environment's ASSISTANT_* settings, e.g.
ASSISTANT_MAX_CONCURRENT_REQUESTS), and stops it at the end. Only loopback URLs are accepted.

Each stage runs ``clients`` clients (asyncio + httpx, one connection each) that POST
/api/ask {"question": ...} back to back, cycling through a fixed question list, until
``--duration`` seconds have passed or ``--requests`` requests were sent. Per stage it prints
requests/s, p50/p95/p99 latency of the answered requests, errors by status (503 = shed by
overload protection, with its Retry-After) and the peak resident memory of the server process
(and its children), sampled every 100 ms; the ratio columns compare with the first stage,
measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "What support did NATO pledge to Ukraine?",
    "What did Stoltenberg say about NATO's long-term support?",
    "What did NATO foreign ministers discuss in Brussels?",
    "What happened in Russia's war in Ukraine on 25 November?",
    "Who attended the NATO foreign ministers meeting?",
    "What did NATO decide about Taiwan's defence budget?",  # not in the documents: a refusal
    "What is the capital of Australia?",  # not in the documents
    "What did the NATO Secretary General say about China?",
]


@dataclass
class Stage:
    clients: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    retry_after: list[int] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @property
    def sent(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def pct(self, q: int) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


# --- memory of the server process -------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def pid_listening_on(port: int) -> int | None:
    """The process with a listening TCP socket on ``port`` (Linux /proc; best effort)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


@contextmanager
def sampling(pid: int | None, stage: Stage) -> Any:
    stop = threading.Event()

    def run() -> None:
        while pid is not None and not stop.wait(0.1):
            stage.peak_rss_mb = max(stage.peak_rss_mb, rss_mb(pid))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if pid is not None:
            stage.peak_rss_mb = max(stage.peak_rss_mb, rss_mb(pid))


# --- the clients ------------------------------------------------------------------------------
async def run_stage(
    url: str, clients: int, duration: float, budget: int, headers: dict[str, str]
) -> Stage:
    import httpx

    stage = Stage(clients)
    left = [budget]
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, timeout=300, limits=limits, trust_env=False, headers=headers
    ) as client:

        async def worker(n: int) -> None:
            i = n
            while time.monotonic() < deadline and left[0] > 0:
                left[0] -= 1
                question = QUESTIONS[i % len(QUESTIONS)]
                i += clients
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    stage.errors[type(exc).__name__] += 1
                    continue
                if r.status_code == 200:
                    stage.latencies_ms.append((time.perf_counter() - t0) * 1000)
                else:
                    stage.errors[str(r.status_code)] += 1
                    if r.headers.get("retry-after", "").isdigit():
                        stage.retry_after.append(int(r.headers["retry-after"]))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        stage.seconds = time.perf_counter() - t0
    return stage


# --- the server -------------------------------------------------------------------------------
def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"refusing {url}: this benchmark only drives a loopback server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url}/health did not answer within {timeout:g} s")


@contextmanager
def own_server(corpus: Path) -> Any:
    """`assistant serve` on a fresh index of ``corpus``, on a free loopback port."""
    tmp = Path(tempfile.mkdtemp(prefix="load-bench-"))
    cmd = [sys.executable, "-m", "assistant"]
    # Every benchmark client comes from 127.0.0.1: the per-client limit would refuse all but
    # a few of them, and it is the server's total capacity being measured here.
    env = {"ASSISTANT_MAX_REQUESTS_PER_CLIENT": "0", **os.environ, "PYTHONPATH": str(ROOT)}
    proc = None
    try:
        subprocess.run(
            [*cmd, "ingest", str(corpus), "--index", str(tmp / "index")],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        with (tmp / "serve.log").open("wb") as log:
            proc = subprocess.Popen(
                [*cmd, "serve", "--index", str(tmp / "index"), "--host", "127.0.0.1"]
                + ["--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        wait_up(url, proc)
        yield url, proc.pid
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def has_serve_command() -> bool:
    r = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--help"],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return r.returncode == 0


# --- report -----------------------------------------------------------------------------------
def table(stages: list[Stage], rss_before: float) -> str:
    base = stages[0]
    head = (
        f"{'clients':>7} {'sent':>6} {'ok':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'peak RSS MB':>11} {'req/s x':>7} {'p50 x':>6}  errors"
    )
    lines = [head, "-" * len(head)]
    for s in stages:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(s.errors.items())) or "none"
        if s.retry_after:
            errors += f" (Retry-After median {statistics.median(s.retry_after):g} s)"
        lines.append(
            f"{s.clients:>7} {s.sent:>6} {len(s.latencies_ms):>6} {s.rps:>7.2f} "
            f"{s.pct(50):>8.0f} {s.pct(95):>8.0f} {s.pct(99):>8.0f} {s.peak_rss_mb:>11.0f} "
            f"{s.rps / base.rps if base.rps else float('nan'):>7.2f} "
            f"{s.pct(50) / base.pct(50) if base.latencies_ms else float('nan'):>6.2f}  {errors}"
        )
    lines.append(f"server RSS before the first stage: {rss_before:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server (loopback only); default: start one")
    parser.add_argument("--pid", type=int, help="the server's pid, for its memory")
    parser.add_argument("--token", help="bearer token (default: env ASSISTANT_API_TOKEN)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per stage")
    parser.add_argument("--requests", type=int, default=2000, help="most requests per stage")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    if args.duration <= 0 or args.requests <= 0 or min(args.clients) < 1:
        raise SystemExit("--duration, --requests and --clients must be positive")
    token = args.token or os.environ.get("ASSISTANT_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def run(url: str, pid: int | None) -> None:
        check_loopback(url)
        wait_up(url, None, timeout=30)
        if pid is None:
            port = urlparse(url).port or 80
            pid = pid_listening_on(port)
        # Warm: the first answers load models and caches that no stage should pay for.
        asyncio.run(run_stage(url, 1, 60, len(QUESTIONS), headers))
        rss_before = rss_mb(pid) if pid else float("nan")
        stages = []
        for clients in args.clients:
            stage = Stage(clients)
            with sampling(pid, stage):
                done = asyncio.run(run_stage(url, clients, args.duration, args.requests, headers))
            done.peak_rss_mb = stage.peak_rss_mb
            stages.append(done)
            print(
                f"... {clients} clients: {done.sent} requests in {done.seconds:.1f} s",
                file=sys.stderr,
            )
        where = f"{url} (pid {pid})" if pid else f"{url} (pid unknown: no memory figures)"
        print(f"POST /api/ask against {where}; {args.duration:g} s or {args.requests} "
              f"requests per stage; ratios vs {stages[0].clients} client(s)")  # fmt: skip
        print(table(stages, rss_before))

    if args.url:
        run(args.url.rstrip("/"), args.pid)
        return
    if not has_serve_command():
        raise SystemExit("this install has no `assistant serve`; give --url of a running server")
    with own_server(args.corpus) as (url, pid):
        run(url, pid)


if __name__ == "__main__":
    main()
