"""paths -> documents (+ metadata) -> clean -> chunk -> embed -> store, incrementally.

A file whose bytes (and sidecar metadata) are unchanged is not even parsed again; a document
whose content is unchanged is not re-embedded; a changed one has its chunks replaced. Each
document is written chunks-first, record-last, so a killed run leaves nothing a re-run does not
repair (see store.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import Document, MetadataMode, TextNode

from assistant.index.catalog import Claim, WorkItem
from assistant.index.readers import (
    ReadError,
    is_supported,
    is_upload,
    iter_files,
    read_file_report,
)
from assistant.index.store import Store, date_int
from assistant.index.workers import Embedding
from assistant.language import foreign_language
from assistant.settings import Settings
from assistant.types import IngestReport, Source

log = logging.getLogger(__name__)

# Only these reach the embedded and LLM text; long fields (tracking URLs, author lists) would
# count against the chunk size and crash the splitter. The date stays out of the embedded
# text: to MiniLM "2022-06-12" is noise (dev MRR@10 0.835 -> 0.862 without it), and dates
# are weighed by retrieval's date prior instead; an LLM still sees it.
EMBEDDED_KEYS = ("title",)
LLM_KEYS = ("title", "published")
TITLE_MAX_CHARS = 200


def file_fingerprint(path: Path) -> str:
    """Hash of the file's bytes and of its sidecar metadata file, if any."""
    h = hashlib.sha256(path.read_bytes())
    sidecar = path.with_name(path.name + ".meta.json")
    if sidecar.is_file():
        h.update(b"\0sidecar\0" + sidecar.read_bytes())
    return h.hexdigest()


# A file changed this recently may change again within the clock's granularity without its
# size or mtime moving (git calls this "racy"): its stat is not trusted, so it is hashed again.
RACY_SECONDS = 2.0


def file_stat(path: Path) -> str:
    """Size, mtime and inode of the file and its sidecar: when these are as recorded, the
    file is not read again. "" for a file modified too recently to trust (RACY_SECONDS)."""
    parts = []
    for p in (path, path.with_name(path.name + ".meta.json")):
        try:
            st = p.stat()
        except FileNotFoundError:
            parts.append("-")
            continue
        if time.time() - st.st_mtime < RACY_SECONDS:
            return ""
        parts.append(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    return "/".join(parts)


def doc_fingerprint(src: Source) -> str:
    payload = [src.source, src.title, src.url, src.published, src.authors, src.text]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def make_splitter(settings: Settings) -> SentenceSplitter:
    import tiktoken

    enc = tiktoken.get_encoding(settings.index.tokenizer)
    return SentenceSplitter(
        chunk_size=settings.index.chunk_size,
        chunk_overlap=settings.index.chunk_overlap,
        tokenizer=enc.encode,
    )


def doc_record(src: Source, **extra: Any) -> dict[str, Any]:
    """The stored record of a document (metadata beside its text) with its content hash."""
    return {
        "hash": doc_fingerprint(src),
        "source": src.source,
        "title": src.title,
        "url": src.url or "",
        "published": src.published or "",
        "authors": ", ".join(src.authors),
        "date_inferred": bool(src.extra.get("date_inferred")),
        **({"claimed_url": src.extra["claimed_url"]} if src.extra.get("claimed_url") else {}),
        **({"encoding": src.extra["encoding"]} if src.extra.get("encoding") else {}),
        **extra,
    }


def to_document(src: Source) -> Document:
    meta: dict[str, Any] = {
        "title": src.title[:TITLE_MAX_CHARS],
        "published": src.published or "",
        "source": src.source,
        "url": src.url or "",
        "pub_int": date_int(src.published),
    }
    return Document(
        id_=src.doc_id,
        text=src.text,
        metadata=meta,
        excluded_embed_metadata_keys=[k for k in meta if k not in EMBEDDED_KEYS],
        excluded_llm_metadata_keys=[k for k in meta if k not in LLM_KEYS],
    )


# The most text one splitter call sees. nltk's sentence regexes run under a wall-clock limit
# (5 s a call) and scan all they are given: a one-paragraph 30 MB file tripped it, and a busy
# machine trips it sooner. 10,000 characters take a few milliseconds, so the limit is never
# near; documents this short (most articles) are split exactly as before.
BLOCK_CHARS = 10_000


def text_blocks(text: str, size: int = BLOCK_CHARS) -> list[tuple[int, str]]:
    """``text`` cut into ``(offset, piece)`` of at most ``size`` characters, each cut at the
    last paragraph break, line break, sentence end or space in the piece's second half."""
    blocks: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > size:
        end = start + size
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            at = text.rfind(sep, start + size // 2, end)
            if at >= 0:
                cut = at + len(sep)
                break
        cut = cut if cut > start else end
        blocks.append((start, text[start:cut]))
        start = cut
    blocks.append((start, text[start:]))
    return blocks


def chunk_sources(splitter: SentenceSplitter, sources: list[Source]) -> list[TextNode]:
    """Chunk each document on its own (chunks never cross documents), with stable ids."""
    nodes: list[TextNode] = []
    for src in sources:
        doc = to_document(src)
        parts: list[tuple[int, Any]] = []
        for offset, piece in text_blocks(src.text):
            block = doc if offset == 0 and len(piece) == len(src.text) else doc.model_copy()
            block.set_content(piece)
            parts += [(offset, n) for n in splitter.get_nodes_from_documents([block])]
        for i, (offset, node) in enumerate(parts):
            assert isinstance(node, TextNode)
            node.id_ = f"{src.doc_id}:{i}"
            start = node.start_char_idx + offset if node.start_char_idx is not None else -1
            end = node.end_char_idx + offset if node.end_char_idx is not None else -1
            node.start_char_idx, node.end_char_idx = max(start, 0), max(end, 0)
            node.metadata.update({"doc_id": src.doc_id, "start": start, "end": end, "chunk": i})
            node.excluded_embed_metadata_keys = [k for k in node.metadata if k not in EMBEDDED_KEYS]
            node.excluded_llm_metadata_keys = [k for k in node.metadata if k not in LLM_KEYS]
            nodes.append(node)
    return nodes


def _resolve_root(file: Path, root: Path, corpus_dir: Path) -> Path:
    # A file named directly keeps the same source id as when its corpus folder is ingested.
    try:
        file.resolve().relative_to(corpus_dir.resolve())
        return corpus_dir
    except ValueError:
        return root


def _rel(file: Path, root: Path) -> str:
    """The file's path under ``root`` as walked. A symlink may point outside the root, so the
    link's own path counts, not its target's."""
    absolute, base = Path(os.path.abspath(file)), Path(os.path.abspath(root))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        pass
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        return file.name


ProgressFactory = Callable[[int, str], Any]
FILE_GROUP = 256  # files whose records are looked up together


def ingest(
    paths: Iterable[Path],
    store: Store,
    embedder: BaseEmbedding,
    settings: Settings,
    prune: bool = False,
    progress: ProgressFactory | None = None,
    rebuild: bool = False,
    workers: int | None = None,
) -> IngestReport:
    """Bring the index in line with ``paths``. ``progress(total, desc)`` returns a tqdm-like bar.

    Three steps: what a killed run left half-written is queued again (the catalog knows it
    without scanning the index); the files are planned against the records of those very
    files (looked up, not listed: a one-file ingestion costs the same in any size of index);
    then the queue is worked off in batches, embedded by ``workers`` processes (default: the
    ``ingest_workers`` setting) and written in the store's kill-safe order. With a database
    the queue is shared: every ``assistant ingest`` on it helps work it off, each document
    once.
    """
    t0 = time.perf_counter()
    report = IngestReport()
    with store.write_lock(exclusive=rebuild):
        log.info("writing to %s (collection %s)", store.location, settings.index.collection)
        if rebuild:
            store.drop()
        splitter = make_splitter(settings)
        redo = store.catalog.pending()
        if redo:
            log.info("%d documents were left half-written; redoing them", len(redo))
        planned = _plan(paths, store, settings, prune, report)
        total = _enqueue(store, splitter, redo + planned, report)
        _work(store, embedder, settings, report, progress, workers, total)
    report.seconds = time.perf_counter() - t0
    log.info("ingestion done: %s", report.summary().replace("\n", "; "))
    return report


def ingest_sources(
    items: list[tuple[Source, dict[str, Any]]],
    store: Store,
    embedder: BaseEmbedding,
    settings: Settings,
    remove: Iterable[str] = (),
    progress: ProgressFactory | None = None,
) -> IngestReport:
    """Write documents that come from no file (web pages, feed items): each ``(source,
    extra record fields)`` is added, replaces its earlier version, or is left alone when its
    content is unchanged; the documents ``remove`` names are deleted. Same queue, write order
    (and kill safety) as ``ingest``; only these documents' records are read."""
    t0 = time.perf_counter()
    report = IngestReport()
    gone = [d for d in dict.fromkeys(remove) if d not in {s.doc_id for s, _ in items}]
    with store.write_lock():
        records = store.catalog.records(doc_ids=[s.doc_id for s, _ in items] + gone)
        work = [WorkItem(doc_id, "delete") for doc_id in gone if doc_id in records]
        for src, extra in items:
            record = doc_record(src, file="", file_hash="", origin="web", **extra)
            old = records.get(src.doc_id)
            if old is not None and old.get("hash") == record["hash"]:
                report.docs_unchanged += 1
                continue
            work.append(WorkItem(src.doc_id, "upsert", src, record, is_update=old is not None))
        _note_language(report, [item.source for item in work if item.source is not None])
        total = _enqueue(store, make_splitter(settings), work, report)
        _work(store, embedder, settings, report, progress, None, total)
    report.seconds = time.perf_counter() - t0
    if work:
        log.info("ingested: %s", report.summary().replace("\n", "; "))
    return report


def _enqueue(
    store: Store, splitter: SentenceSplitter, items: list[WorkItem], report: IngestReport
) -> int:
    """Queue the work; its chunks (chunked here, milliseconds a document, so that the bar can
    count chunks, the unit of embedding work). A document that cannot be chunked is reported
    and left out (its earlier version, if any, stays); the rest goes ahead."""
    queued: list[WorkItem] = []
    for item in items:
        if item.op == "upsert" and item.source is not None:
            try:
                item.nodes = chunk_sources(splitter, [item.source])
            except Exception as exc:  # noqa: BLE001 - one document must not fail the run
                log.warning("could not split %s into chunks: %r", item.source.source, exc)
                report.skipped.append(
                    (item.source.source, f"could not be split into chunks ({type(exc).__name__})")
                )
                key = str(item.record.get("file", ""))
                if report.docs_by_file.get(key):
                    report.docs_by_file[key] -= 1
                continue
        queued.append(item)
    store.catalog.enqueue(queued)
    return sum(len(i.nodes or ()) for i in queued)


@dataclass
class _File:
    path: Path
    rel: str
    key: str
    stat: str
    root: Path
    untrusted: bool = False


def _plan(
    paths: Iterable[Path], store: Store, settings: Settings, prune: bool, report: IngestReport
) -> list[WorkItem]:
    """The work the files ask for: documents to add, rewrite or delete."""
    items: list[WorkItem] = []
    seen_files: set[str] = set()
    rejected: list[tuple[Path, Path, str]] = []
    group: list[_File] = []
    for file, root in iter_files(list(paths), rejected):
        if file.name.endswith(".meta.json"):
            continue
        report.files_seen += 1
        root = _resolve_root(file, root, settings.index.corpus_dir)
        rel = _rel(file, root)
        key = str(file.resolve())
        seen_files.add(key)
        if not is_supported(file):
            report.skipped.append((rel, f"unsupported file type {file.suffix or '(none)'}"))
            continue
        try:
            size = file.stat().st_size
            if size > settings.index.max_file_mb * 1024 * 1024:
                report.skipped.append(
                    (rel, f"file too large ({size / 1e6:.1f} MB > {settings.index.max_file_mb} MB)")
                )
                continue
            stat = file_stat(file)
        except OSError as exc:
            report.skipped.append((rel, f"cannot read: {exc.strerror or exc}"))
            continue
        untrusted = root == settings.index.corpus_dir and is_upload(rel)
        group.append(_File(file, rel, key, stat, root, untrusted))
        if len(group) >= FILE_GROUP:
            items += _plan_files(group, store, report)
            group = []
    items += _plan_files(group, store, report)
    report.files_seen += len(rejected)
    report.skipped += [(_rel(file, root), why) for file, root, why in rejected]
    if prune:
        # The one step that must see every record: which files are gone.
        for doc_id, meta in store.catalog.records().items():
            if meta.get("origin") == "web":
                continue  # fetched from a URL: no file to find or prune
            key = str(meta.get("file", ""))
            if key not in seen_files and not Path(key).exists():
                items.append(WorkItem(doc_id, "delete"))
    return items


def _plan_files(files: list[_File], store: Store, report: IngestReport) -> list[WorkItem]:
    if not files:
        return []
    catalog = store.catalog
    records = catalog.records(files=[f.key for f in files])
    by_file: dict[str, list[str]] = {}
    for doc_id, meta in records.items():
        if meta.get("origin") != "web":
            by_file.setdefault(str(meta.get("file", "")), []).append(doc_id)
    restat: dict[str, dict[str, Any]] = {}  # unchanged files whose stat moved
    read: list[tuple[_File, str, list[Source]]] = []
    for f in files:
        old_ids = by_file.get(f.key, [])
        if f.stat and old_ids and all(_same_stat(records[i], f.stat) for i in old_ids):
            report.files_unchanged += 1
            report.docs_unchanged += len(old_ids)
            report.docs_by_file[f.key] = len(old_ids)
            continue
        try:
            fp = file_fingerprint(f.path)
        except OSError as exc:
            report.skipped.append((f.rel, f"cannot read: {exc.strerror or exc}"))
            continue
        if old_ids and all(records[i].get("file_hash") == fp for i in old_ids):
            report.files_unchanged += 1
            report.docs_unchanged += len(old_ids)
            report.docs_by_file[f.key] = len(old_ids)
            restat.update({i: {**records[i], "file_stat": f.stat} for i in old_ids})
            continue
        try:
            sources, problems = read_file_report(f.path, f.root, f.untrusted)
        except ReadError as exc:
            report.skipped.append((f.rel, str(exc)))
            continue
        except Exception as exc:  # a reader bug must not lose the rest of the corpus
            log.exception("reader failed on %s", f.path)
            report.skipped.append((f.rel, f"unreadable: {type(exc).__name__}: {exc}"))
            continue
        report.files_read += 1
        report.skipped += [(f.rel, p) for p in problems]
        _note_language(report, sources)
        report.docs_by_file[f.key] = len(sources)
        read.append((f, fp, sources))
    store.update_records(restat)
    # A document may have been read from another file before (a moved file).
    others = [s.doc_id for _, _, sources in read for s in sources if s.doc_id not in records]
    if others:
        records.update(catalog.records(doc_ids=others))
    items: list[WorkItem] = []
    for f, fp, sources in read:
        new_ids = {s.doc_id for s in sources}
        items += [WorkItem(gone, "delete") for gone in set(by_file.get(f.key, [])) - new_ids]
        for src in sources:
            record = doc_record(src, file=f.key, file_hash=fp, file_stat=f.stat)
            old = records.get(src.doc_id)
            if old is not None and old.get("hash") == record["hash"]:
                if (old.get("file_hash"), old.get("file"), old.get("file_stat")) != (
                    fp,
                    f.key,
                    f.stat,
                ):
                    moved = {**old, "file": f.key, "file_hash": fp, "file_stat": f.stat}
                    catalog.move(src, moved)
                report.docs_unchanged += 1
                continue
            items.append(WorkItem(src.doc_id, "upsert", src, record, is_update=old is not None))
    return items


def _note_language(report: IngestReport, sources: list[Source]) -> None:
    for src in sources:
        language = foreign_language(src.text)
        if language is not None:
            report.not_english.append((src.source, language))


def _same_stat(record: dict[str, Any], stat: str) -> bool:
    return record.get("file_stat") == stat and record.get("hash") not in (None, "", "pending")


def _work(
    store: Store,
    embedder: BaseEmbedding,
    settings: Settings,
    report: IngestReport,
    progress: ProgressFactory | None,
    workers: int | None,
    total: int,
) -> None:
    """Claim batches from the queue, embed them (``workers`` processes, or this one), write
    them in order. Embedding the next batches overlaps writing this one."""
    bar = progress(total, "embedding") if progress and total else None
    splitter = make_splitter(settings)

    def chunk(item: WorkItem) -> None:
        assert item.source is not None
        item.nodes = chunk_sources(splitter, [item.source])

    catalog = store.catalog
    done = 0
    try:
        with Embedding(embedder, settings, workers or settings.index.ingest_workers) as embedding:
            inflight: deque[tuple[Claim, Future[np.ndarray]]] = deque()
            more = True
            while True:
                while more and len(inflight) < embedding.depth:
                    store.check_writer()
                    claim = catalog.claim(settings.index.ingest_batch_chunks, chunk)
                    if claim is None:
                        more = False
                        break
                    inflight.append((claim, embedding.submit(_embed_texts(claim))))
                if not inflight:
                    return
                claim, future = inflight.popleft()
                try:
                    _assign(claim, future.result())
                    log.debug("writing %d documents, %d chunks", len(claim.items), claim.chunks)
                    removed = store.write_batch(claim)
                except BaseException:
                    for c in [claim, *(c for c, _ in inflight)]:
                        catalog.release(c)
                    raise
                _account(report, claim, removed)
                done += claim.chunks
                log.info("indexed %d chunks (%d documents in this batch)", done, len(claim.items))
                if bar is not None:
                    bar.update(claim.chunks)
    finally:
        if bar is not None:
            bar.close()


def _embed_texts(claim: Claim) -> list[str]:
    return [
        n.get_content(metadata_mode=MetadataMode.EMBED) for i in claim.items for n in i.nodes or ()
    ]


def _assign(claim: Claim, vectors: np.ndarray) -> None:
    nodes = [n for i in claim.items for n in i.nodes or ()]
    for node, vec in zip(nodes, vectors, strict=True):
        node.embedding = vec


def _account(report: IngestReport, claim: Claim, removed: int) -> None:
    report.chunks_removed += removed
    for item in claim.items:
        if item.op == "delete":
            report.docs_removed += 1
            continue
        report.chunks_added += len(item.nodes or ())
        if item.is_update:
            report.docs_updated += 1
        else:
            report.docs_added += 1
        if item.source is not None:
            status = "updated" if item.is_update else "added"
            report.arrived.append((status, item.source.title, item.source.source))
