"""Run the `assistant` CLI with a SIGKILL planted at an exact step of a PostgreSQL-backed
ingestion (tests/support/crashpoints.py does the same for the embedded index):

    CRASH_AT=commit-sql:2 python -m tests.support.pg_crashpoints ingest

``PAUSE_AFTER_COMMIT=<seconds>`` instead slows each committed batch down (so that a second
process has time to join a shared queue).

``CRASH_AT`` is ``<step>:<n>``; the process kills itself at the n-th occurrence of the step:
  claimed     a batch's queue rows are locked, nothing written yet
  added       the batch's chunks are in Chroma, the database not yet told
  commit-sql  every statement of the batch's transaction ran, the COMMIT did not
  committed   the batch is committed (between batches)
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tests.support.crashpoints import die, nth_call


def install(spec: str) -> None:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.postgres.catalog import PgCatalog

    step, counted = nth_call(spec)

    def hit() -> None:
        if counted():
            die()

    if step == "claimed":
        real_claim = PgCatalog.claim

        def claim(self: PgCatalog, *args: Any) -> Any:
            got = real_claim(self, *args)
            if got is not None:
                hit()
            return got

        PgCatalog.claim = claim  # type: ignore[method-assign]
    elif step == "added":
        real_add = ChromaVectorStore.add

        def add(self: Any, nodes: list[Any], **kw: Any) -> list[str]:
            out = real_add(self, nodes, **kw)
            hit()
            return out

        ChromaVectorStore.add = add  # type: ignore[method-assign]
    elif step == "commit-sql":
        real_write = PgCatalog._write

        def write(self: PgCatalog, conn: Any, items: Any) -> None:
            real_write(self, conn, items)
            hit()

        PgCatalog._write = write  # type: ignore[method-assign]
    elif step == "committed":
        real_commit = PgCatalog.commit

        def commit(self: PgCatalog, claim: Any) -> None:
            real_commit(self, claim)
            hit()

        PgCatalog.commit = commit  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown crash step {step!r}")


def slow_down(seconds: float) -> None:
    import time

    from assistant.postgres.catalog import PgCatalog

    real_commit = PgCatalog.commit

    def commit(self: PgCatalog, claim: Any) -> None:
        real_commit(self, claim)
        time.sleep(seconds)

    PgCatalog.commit = commit  # type: ignore[method-assign]


def main() -> None:
    import assistant  # noqa: F401  (offline switches first)

    spec = os.environ.get("CRASH_AT")
    if spec:
        install(spec)
    pause = float(os.environ.get("PAUSE_AFTER_COMMIT") or 0)
    if pause:
        slow_down(pause)
    from assistant.fronts.cli import main as cli_main

    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
