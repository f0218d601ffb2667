"""Run the `assistant` CLI with a SIGKILL planted at an exact step of ingestion's writes.

A kill from outside lands wherever the process happens to be; these land *inside* a write
sequence, deterministically. Usage (what tests/integration/test_crash_safety.py runs):

    CRASH_AT=add:2 python -m tests.support.crashpoints ingest --index index

``CRASH_AT`` is ``<step>:<n>``: the process SIGKILLs itself at the n-th call of the step:
  put_docs   right after the n-th document-record write (odd n: a batch's "pending" records,
             even n: its final records)
  delete     right after the n-th deletion of old chunks
  add        in the middle of the n-th chunk write: half its chunks are stored, then the kill
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def die() -> None:
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def nth_call(spec: str) -> tuple[str, Callable[[], bool]]:
    """``spec``'s step (``<step>:<n>``) and a counter that is true at the step's n-th call."""
    step, _, number = spec.partition(":")
    target = int(number or 1)
    calls = {"n": 0}

    def counted() -> bool:
        calls["n"] += 1
        return calls["n"] == target

    return step, counted


def install(spec: str) -> None:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.index.local import LocalCatalog
    from assistant.index.store import Store

    step, counted = nth_call(spec)
    if step == "put_docs":
        real_put = LocalCatalog.put_docs

        def put_docs(self: LocalCatalog, items: Any) -> None:
            real_put(self, items)
            if counted():
                die()

        LocalCatalog.put_docs = put_docs  # type: ignore[method-assign]
    elif step == "delete":
        real_delete = Store.delete_chunks_of

        def delete_chunks_of(self: Store, *doc_ids: str) -> int:
            n = real_delete(self, *doc_ids)
            if counted():
                die()
            return n

        Store.delete_chunks_of = delete_chunks_of  # type: ignore[method-assign]
    elif step == "add":
        real_add = ChromaVectorStore.add

        def add(self: Any, nodes: list[Any], **kw: Any) -> list[str]:
            if counted():
                real_add(self, nodes[: max(1, len(nodes) // 2)], **kw)
                die()
            return real_add(self, nodes, **kw)

        ChromaVectorStore.add = add  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown crash step {step!r}")


def main() -> None:
    import assistant  # noqa: F401  (offline switches first)

    spec = os.environ.get("CRASH_AT")
    if spec:
        install(spec)
    from assistant.fronts.cli import main as cli_main

    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
