"""The catalog: what the index commits last, and the work that is still to do.

The chunk vectors live in Chroma (store.py). Everything else an index needs, the catalog
keeps: one record per document (its cleaned text, which citation offsets refer to, its
metadata and content hashes), the keyword postings of its chunks, the index revision that
readers watch, the writer lock, and the queue of documents still to be written. Two
implementations, chosen in assistant/backends.py:

- ``LocalCatalog`` (index/local.py): records in a Chroma collection ``<name>-docs``, keyword
  segments on disk, the queue in memory, a ``flock`` (or a Chroma-server lease) as the lock;
- ``PgCatalog`` (postgres/catalog.py): PostgreSQL tables, the queue a table that several
  machines' workers claim from with ``SELECT ... FOR UPDATE SKIP LOCKED``, an advisory lock.

A document is written in the same order by both (Store.write_batch): the catalog is told a
claimed batch is about to change (``begin``), its old chunks are deleted from Chroma and the
new ones added under ids ``<doc_id>:<n>``, and then the catalog commits the records and
keyword postings (``commit``). Whatever a kill interrupts is still in the queue (or marked
pending) and is redone by the next run; redoing is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from llama_index.core.schema import TextNode

from assistant.types import Source


@dataclass
class WorkItem:
    """One document to (re)write or to delete."""

    doc_id: str
    op: Literal["upsert", "delete"] = "upsert"
    source: Source | None = None
    record: dict[str, Any] = field(default_factory=dict)  # what the catalog will hold
    is_update: bool = False
    nodes: list[TextNode] | None = None  # its chunks, once chunked (and embedded)

    def to_payload(self) -> dict[str, Any]:
        src = self.source
        return {
            "op": self.op,
            "record": self.record,
            "is_update": self.is_update,
            "source": None
            if src is None
            else {
                "doc_id": src.doc_id,
                "source": src.source,
                "text": src.text,
                "title": src.title,
                "url": src.url,
                "published": src.published,
                "authors": src.authors,
                "extra": src.extra,
            },
        }

    @classmethod
    def from_payload(cls, doc_id: str, payload: dict[str, Any]) -> WorkItem:
        src = payload.get("source")
        return cls(
            doc_id=doc_id,
            op=payload.get("op", "upsert"),
            source=Source(**src) if src else None,
            record=dict(payload.get("record") or {}),
            is_update=bool(payload.get("is_update")),
        )


@dataclass
class Claim:
    """A batch of work items held by this process until it is committed or released."""

    items: list[WorkItem]
    handle: Any = None  # the backend's: a database transaction holding the rows' locks

    @property
    def chunks(self) -> int:
        return sum(len(i.nodes or ()) for i in self.items)


Chunker = Callable[[WorkItem], None]


class Catalog(Protocol):
    location: str

    # --- reading ----------------------------------------------------------------------------
    def records(
        self,
        doc_ids: list[str] | None = None,
        files: list[str] | None = None,
        where: dict[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """doc_id -> record of the given documents, or of documents read from the given files
        (resolved paths), narrowed to those whose fields equal ``where``'s values; every
        record when all are None."""
        ...

    def update_records(self, records: dict[str, dict[str, Any]]) -> None:
        """Replace stored records (bookkeeping such as file stats: texts, chunks and the
        revision stay)."""
        ...

    def texts(self, doc_ids: list[str]) -> dict[str, str]: ...

    def doc_count(self) -> int: ...

    def chunk_count(self) -> int | None:
        """Chunks in the index, when the catalog keeps count (None: ask Chroma)."""
        ...

    def state(self) -> tuple[str, str]:
        """(epoch, revision): the epoch changes when the index is dropped and rebuilt, the
        revision whenever a writer changed it. Read fresh on every call."""
        ...

    def reopen(self) -> None:
        """Take fresh handles after another process rebuilt the index."""
        ...

    # --- writing ----------------------------------------------------------------------------
    def writer(self, exclusive: bool) -> AbstractContextManager[None]:
        """The writer lock for one ingestion; ``exclusive`` for a rebuild. Raises IndexBusy
        when it cannot be had."""
        ...

    def check_writer(self) -> None:
        """Raise IndexBusy if this writer lost its lock (called between batches)."""
        ...

    def pending(self) -> list[WorkItem]:
        """What a killed run left half-written, to be redone before anything else."""
        ...

    def enqueue(self, items: list[WorkItem]) -> None: ...

    def claim(self, max_chunks: int, chunk: Chunker) -> Claim | None:
        """The next batch of queued work (whole documents, about ``max_chunks`` chunks),
        chunked with ``chunk``; None when the queue is empty."""
        ...

    def begin(self, claim: Claim) -> None:
        """Called before the claim's chunks change in Chroma."""
        ...

    def commit(self, claim: Claim) -> None:
        """Make the claim's documents (records, keyword postings) current; last step."""
        ...

    def release(self, claim: Claim) -> None:
        """Give a claim back unfinished (its work stays queued or pending)."""
        ...

    def move(self, src: Source, record: dict[str, Any]) -> None:
        """Record a new file (path or hash) for a document whose content did not change."""
        ...

    def drop_records(self) -> None:
        """Forget every document (the first step of a rebuild)."""
        ...

    def dropped(self) -> None:
        """The rebuild's Chroma side is done: start a new epoch."""
        ...


def iter_pages(items: list[Any], size: int) -> Iterator[list[Any]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]
