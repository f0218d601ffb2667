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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import Document, MetadataMode, TextNode

from assistant.index.embedding import embed_function
from assistant.index.readers import ReadError, is_supported, iter_files, read_file_report
from assistant.index.store import Store, date_int
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


def chunk_sources(splitter: SentenceSplitter, sources: list[Source]) -> list[TextNode]:
    """Chunk each document on its own (chunks never cross documents), with stable ids."""
    nodes: list[TextNode] = []
    for src in sources:
        doc = to_document(src)
        for i, node in enumerate(splitter.get_nodes_from_documents([doc])):
            assert isinstance(node, TextNode)
            node.id_ = f"{src.doc_id}:{i}"
            start = node.start_char_idx if node.start_char_idx is not None else -1
            end = node.end_char_idx if node.end_char_idx is not None else -1
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


def ingest(
    paths: Iterable[Path],
    store: Store,
    embedder: BaseEmbedding,
    settings: Settings,
    prune: bool = False,
    progress: ProgressFactory | None = None,
    rebuild: bool = False,
) -> IngestReport:
    """Bring the index in line with ``paths``. ``progress(total, desc)`` returns a tqdm-like bar.

    Safe to kill at any point: the next run ends with exactly the documents of the corpus
    (see ``_write_batch`` for the write order, ``_repair`` for what a re-run fixes).
    """
    t0 = time.perf_counter()
    report = IngestReport()
    with store.write_lock():
        log.info("writing to %s (collection %s)", store.location, settings.index.collection)
        if rebuild:
            store.drop()
        records = store.doc_records()
        _repair(store, records, report)
        by_file: dict[str, list[str]] = {}
        for doc_id, meta in records.items():
            if meta.get("origin") == "web":
                continue  # fetched from a URL: no file to find or prune
            by_file.setdefault(str(meta.get("file", "")), []).append(doc_id)
        restat: dict[str, dict[str, Any]] = {}  # unchanged files whose stat moved

        pending: list[tuple[Source, dict[str, Any], bool]] = []  # (source, record, is_update)
        seen_files: set[str] = set()
        rejected: list[tuple[Path, Path, str]] = []
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
                        (
                            rel,
                            f"file too large ({size / 1e6:.1f} MB > "
                            f"{settings.index.max_file_mb} MB)",
                        )
                    )
                    continue
                stat = file_stat(file)
                old_ids = by_file.get(key, [])
                if stat and old_ids and all(_same_stat(records[i], stat) for i in old_ids):
                    report.files_unchanged += 1
                    report.docs_unchanged += len(old_ids)
                    report.docs_by_file[key] = len(old_ids)
                    continue
                fp = file_fingerprint(file)
            except OSError as exc:
                report.skipped.append((rel, f"cannot read: {exc.strerror or exc}"))
                continue
            if old_ids and all(records[i].get("file_hash") == fp for i in old_ids):
                report.files_unchanged += 1
                report.docs_unchanged += len(old_ids)
                report.docs_by_file[key] = len(old_ids)
                restat.update({i: {**records[i], "file_stat": stat} for i in old_ids})
                continue
            try:
                sources, problems = read_file_report(file, root)
            except ReadError as exc:
                report.skipped.append((rel, str(exc)))
                continue
            except Exception as exc:  # a reader bug must not lose the rest of the corpus
                log.exception("reader failed on %s", file)
                report.skipped.append((rel, f"unreadable: {type(exc).__name__}: {exc}"))
                continue
            report.files_read += 1
            report.skipped += [(rel, p) for p in problems]
            report.docs_by_file[key] = len(sources)
            new_ids = {s.doc_id for s in sources}
            for gone in set(old_ids) - new_ids:
                report.chunks_removed += store.delete_doc(gone)
                report.docs_removed += 1
            for src in sources:
                record = doc_record(src, file=key, file_hash=fp, file_stat=stat)
                old = records.get(src.doc_id)
                if old is not None and old.get("hash") == record["hash"]:
                    if (old.get("file_hash"), old.get("file"), old.get("file_stat")) != (
                        fp,
                        key,
                        stat,
                    ):
                        store.put_doc(src, {**old, "file": key, "file_hash": fp, "file_stat": stat})
                    report.docs_unchanged += 1
                    continue
                pending.append((src, record, old is not None))

        store.update_records(restat)
        report.files_seen += len(rejected)
        report.skipped += [(_rel(file, root), why) for file, root, why in rejected]
        if prune:
            for key, ids in by_file.items():
                if key not in seen_files and not Path(key).exists():
                    for doc_id in ids:
                        report.chunks_removed += store.delete_doc(doc_id)
                        report.docs_removed += 1

        _write_pending(pending, store, embedder, settings, report, progress)
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
    content is unchanged; the documents ``remove`` names are deleted. Same write order (and
    kill safety) as ``ingest``; only these documents' records are read."""
    t0 = time.perf_counter()
    report = IngestReport()
    gone = [d for d in dict.fromkeys(remove) if d not in {s.doc_id for s, _ in items}]
    with store.write_lock():
        records = store.doc_records([s.doc_id for s, _ in items] + gone)
        for doc_id in gone:
            if doc_id in records:
                report.chunks_removed += store.delete_doc(doc_id)
                report.docs_removed += 1
        pending: list[tuple[Source, dict[str, Any], bool]] = []
        for src, extra in items:
            record = doc_record(src, file="", file_hash="", origin="web", **extra)
            old = records.get(src.doc_id)
            if old is not None and old.get("hash") == record["hash"]:
                report.docs_unchanged += 1
                continue
            pending.append((src, record, old is not None))
        _write_pending(pending, store, embedder, settings, report, progress)
    report.seconds = time.perf_counter() - t0
    if pending or gone:
        log.info("ingested: %s", report.summary().replace("\n", "; "))
    return report


def _repair(store: Store, records: dict[str, dict[str, Any]], report: IngestReport) -> None:
    """Undo what a killed run left: chunks of documents without a record are deleted, and a
    record whose chunk count disagrees with the chunks stored is marked to be redone.

    ``records`` is changed in place so that the marked documents are re-read and rewritten.
    """
    counts = store.chunk_counts()
    for orphan in set(counts) - set(records):
        report.chunks_removed += store.delete_chunks_of(orphan)
    for doc_id, meta in records.items():
        stored = counts.get(doc_id, 0)
        if meta.get("hash") != "pending" and int(meta.get("chunks", -1)) == stored:
            continue
        log.info("document %s is incomplete (%d chunks stored); redoing it", doc_id, stored)
        meta["hash"], meta["file_hash"], meta["file_stat"] = "pending", "", ""


def _same_stat(record: dict[str, Any], stat: str) -> bool:
    return record.get("file_stat") == stat and record.get("hash") not in (None, "", "pending")


def _write_pending(
    pending: list[tuple[Source, dict[str, Any], bool]],
    store: Store,
    embedder: BaseEmbedding,
    settings: Settings,
    report: IngestReport,
    progress: ProgressFactory | None,
) -> None:
    if not pending:
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    splitter = make_splitter(settings)
    # Chunk up front (milliseconds a document) so the bar can count chunks, the unit of
    # embedding work.
    groups: list[_Group] = []
    for src, record, is_update in pending:
        groups.append((src, record, is_update, chunk_sources(splitter, [src])))
    total = sum(len(g[3]) for g in groups)
    bar = progress(total, "embedding") if progress else None
    done = [0, total]
    batches: list[list[_Group]] = [[]]
    size = 0
    for group in groups:
        if size >= settings.index.ingest_batch_chunks:
            batches.append([])
            size = 0
        batches[-1].append(group)
        size += len(group[3])
    # Writing a batch to Chroma overlaps with embedding the next one; batches are written in
    # order, one at a time, so the store's write order holds per batch.
    with ThreadPoolExecutor(1, thread_name_prefix="ingest-write") as writer:
        written: Future[None] | None = None
        for batch in batches:
            if not batch:
                continue
            store.check_writer()
            _embed(batch, embedder)
            if written is not None:
                written.result()  # re-raises a failed write before more work is queued
            written = writer.submit(_write_batch, batch, store, report, bar, done)
        if written is not None:
            written.result()
    if bar is not None:
        bar.close()


_Group = tuple[Source, dict[str, Any], bool, list[TextNode]]


def _embed(batch: list[_Group], embedder: BaseEmbedding) -> None:
    nodes = [n for g in batch for n in g[3]]
    vectors = embed_function(embedder)(
        [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    )
    for node, vec in zip(nodes, vectors, strict=True):
        node.embedding = vec


def _write_batch(
    batch: list[_Group], store: Store, report: IngestReport, bar: Any, done: list[int]
) -> None:
    nodes = sum(len(g[3]) for g in batch)
    log.debug("writing %d documents, %d chunks", len(batch), nodes)
    report.chunks_removed += store.write_documents([(src, rec, ns) for src, rec, _, ns in batch])
    for src, _record, is_update, doc_nodes in batch:
        report.chunks_added += len(doc_nodes)
        if is_update:
            report.docs_updated += 1
        else:
            report.docs_added += 1
        report.arrived.append(("updated" if is_update else "added", src.title, src.source))
    done[0] += nodes
    log.info("indexed %d/%d chunks (%d documents in this batch)", done[0], done[1], len(batch))
    if bar is not None:
        bar.update(nodes)
