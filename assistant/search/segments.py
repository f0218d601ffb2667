"""An on-disk, incremental BM25 index: immutable segments, tombstones, and merges.

The embedded mode's keyword index (bm25.py says what is counted and how it is scored). Each
write adds one small segment holding the new chunks' postings and marks the chunks it
replaces as deleted in the older segments; nothing is re-scored, because idf and the average
length are computed at query time from live counts. Segments are merged in the background of
writes (a new segment that is at least half the size of the one before it is merged into it),
so a corpus of N chunks has O(log N) segments and each chunk is copied O(log N) times in its
life, never all of them for one change.

Every array is a ``.npy`` file opened memory-mapped: a reader keeps no copy of the chunks'
text (hits are fetched from Chroma by id) and no Python object per term or chunk; terms,
documents and sources are 64-bit keys found by binary search in sorted arrays. A write
replaces ``manifest.json`` atomically, so a reader sees either the old or the new set of
segments; readers reload it when the index revision changes.

Segment folder ``s-<id>/``: ``terms`` (sorted term keys), ``indptr`` (postings of term i are
``indptr[i]:indptr[i+1]``), ``postings`` (chunk numbers), ``tf``; per chunk ``length``,
``pub`` (YYYYMMDD or 0), ``source`` (key), ``doc`` (key) and ``ids`` (chunk ids); ``docs`` and
``doc_order`` (chunk numbers sorted by document key, to find a document's chunks). Deletions
are a boolean array in ``deleted-<id>.npy``, named in the manifest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.search import bm25

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
MERGE_RATIO = 2  # merge the newest segment into the one before once it is >= 1/2 its size
_ARRAYS = ("terms", "indptr", "postings", "tf", "length", "pub", "source", "doc", "ids",
           "docs", "doc_order")  # fmt: skip


@lru_cache(maxsize=1 << 18)
def _key(text: str) -> int:
    return bm25.key64(text)


@dataclass(slots=True)
class Row:
    """One chunk as the keyword index sees it."""

    chunk_id: str
    doc_id: str
    counts: Counter[str]
    length: int
    pub: int
    source: str


@dataclass(slots=True)
class Hit:
    chunk_id: str
    score: float


@dataclass(slots=True)
class Match:
    """Where a term's postings are in one segment."""

    segment: Segment
    docs: np.ndarray
    tf: np.ndarray
    alive: np.ndarray


class Segment:
    """One immutable segment, memory-mapped, with the deletion mask the manifest names."""

    def __init__(self, folder: Path, deleted: str | None) -> None:
        self.folder = folder
        self.name = folder.name
        self.a: dict[str, np.ndarray] = {
            name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS
        }
        self.n = int(self.a["length"].shape[0])
        self.deleted_file = deleted
        if deleted:
            self.deleted = np.load(folder / deleted)
        else:
            self.deleted = np.zeros(self.n, dtype=bool)
        live_pub = np.asarray(self.a["pub"])[~self.deleted]
        self.newest = int(live_pub.max()) if live_pub.size else 0

    def match(self, key: int) -> Match | None:
        terms = self.a["terms"]
        i = int(np.searchsorted(terms, np.uint64(key)))
        if i >= terms.shape[0] or int(terms[i]) != key:
            return None
        lo, hi = int(self.a["indptr"][i]), int(self.a["indptr"][i + 1])
        docs = np.asarray(self.a["postings"][lo:hi])
        alive = ~self.deleted[docs]
        return Match(self, docs, np.asarray(self.a["tf"][lo:hi], dtype=np.float64), alive)

    def chunks_of(self, doc_key: int) -> np.ndarray:
        docs = self.a["docs"]
        k = np.uint64(doc_key)
        lo, hi = int(np.searchsorted(docs, k, "left")), int(np.searchsorted(docs, k, "right"))
        return np.asarray(self.a["doc_order"][lo:hi])

    def chunk_id(self, i: int) -> str:
        return bytes(self.a["ids"][i]).decode("utf-8")


# --- reading -------------------------------------------------------------------------------


class SegmentIndex:
    """A consistent view of one manifest's segments, for searching."""

    def __init__(self, folder: Path, manifest: dict[str, Any], reuse: dict[str, Segment]) -> None:
        self.folder = folder
        self.segments: list[Segment] = []
        for entry in manifest["segments"]:
            old = reuse.get(entry["name"])
            if old is not None and old.deleted_file == entry.get("deleted"):
                self.segments.append(old)
            else:
                self.segments.append(Segment(folder / entry["name"], entry.get("deleted")))
        self.live = int(manifest["live"])
        self.live_length = int(manifest["live_length"])
        self.avgdl = self.live_length / self.live if self.live else 1.0
        newest = max((s.newest for s in self.segments), default=0)
        self.newest = newest or None

    @classmethod
    def open(cls, folder: Path, previous: SegmentIndex | None = None) -> SegmentIndex | None:
        """The index as its manifest says now; None when there is none. A writer may delete a
        segment between our reading the manifest and opening it: then read it again."""
        reuse = {s.name: s for s in previous.segments} if previous else {}
        for _ in range(5):
            manifest = read_manifest(folder)
            if manifest is None:
                return None
            try:
                return cls(folder, manifest, reuse)
            except FileNotFoundError:
                continue
        raise RuntimeError(f"the keyword index in {folder} keeps changing under the reader")

    def df(self, term: str) -> tuple[int, list[Match]]:
        matches = [m for s in self.segments if (m := s.match(_key(term))) is not None]
        return sum(int(m.alive.sum()) for m in matches), matches

    def idf(self, term: str) -> float | None:
        df, _ = self.df(term)
        return bm25.idf(df, self.live) if df else None

    def search(
        self,
        terms: list[str],
        k: int,
        since: int = 0,
        until: int = 0,
        sources: Iterable[str] = (),
        exclude_docs: Iterable[str] = (),
    ) -> list[Hit]:
        """The ``k`` best live chunks for the query terms (repeats count, as in bm25s), among
        chunks published in [since, until] (0 = open) from ``sources`` (empty = any), leaving
        out the documents ``exclude_docs``."""
        if not terms or not self.live:
            return []
        weights: Counter[str] = Counter(terms)
        per_segment: dict[str, list[tuple[Match, float]]] = {}
        for term, times in weights.items():
            df, matches = self.df(term)
            if not df:
                continue
            w = times * bm25.idf(df, self.live)
            for m in matches:
                per_segment.setdefault(m.segment.name, []).append((m, w))
        source_keys = np.array([_key(s) for s in sources], dtype=np.uint64)
        excluded = np.array([_key(d) for d in exclude_docs], dtype=np.uint64)
        best: list[Hit] = []
        for segment in self.segments:
            found = per_segment.get(segment.name)
            if found:
                best += self._top(segment, found, k, since, until, source_keys, excluded)
        best.sort(key=lambda h: h.score, reverse=True)
        return best[:k]

    def _top(
        self,
        seg: Segment,
        found: list[tuple[Match, float]],
        k: int,
        since: int,
        until: int,
        source_keys: np.ndarray,
        excluded: np.ndarray,
    ) -> list[Hit]:
        docs = np.concatenate([m.docs[m.alive] for m, _ in found])
        if not docs.size:
            return []
        length = np.asarray(seg.a["length"])
        parts = []
        for m, w in found:
            d = m.docs[m.alive]
            parts.append(w * bm25.tf_part(m.tf[m.alive], length[d], self.avgdl))
        contrib = np.concatenate(parts)
        cand, inverse = np.unique(docs, return_inverse=True)
        scores = np.bincount(inverse, weights=contrib, minlength=cand.size)
        keep = np.ones(cand.size, dtype=bool)
        if since or until:
            pub = np.asarray(seg.a["pub"])[cand]
            if since:
                keep &= pub >= since
            if until:
                keep &= (pub > 0) & (pub <= until)
        if source_keys.size:
            keep &= np.isin(np.asarray(seg.a["source"])[cand], source_keys)
        if excluded.size:
            keep &= ~np.isin(np.asarray(seg.a["doc"])[cand], excluded)
        cand, scores = cand[keep], scores[keep]
        if cand.size > k:
            top = np.argpartition(-scores, k - 1)[:k]
            cand, scores = cand[top], scores[top]
        return [Hit(seg.chunk_id(int(c)), float(s)) for c, s in zip(cand, scores, strict=True)]


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if data.get("format") != FORMAT:
        raise RuntimeError(f"the keyword index in {folder} has an unknown format")
    return data


# --- writing -------------------------------------------------------------------------------


def _write_segment(parent: Path, rows: Iterable[Row]) -> tuple[str, int, int]:
    """Write a segment of ``rows``; returns (name, chunks, total length)."""
    keys: list[np.ndarray] = []
    chunk_no: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    per_chunk: dict[str, list[Any]] = {"length": [], "pub": [], "source": [], "doc": [], "ids": []}
    for i, row in enumerate(rows):
        items = row.counts.items()
        keys.append(np.fromiter((_key(t) for t, _ in items), dtype=np.uint64, count=len(items)))
        tfs.append(
            np.fromiter((min(c, bm25.MAX_TF) for _, c in items), dtype=np.uint16, count=len(items))
        )
        chunk_no.append(np.full(len(items), i, dtype=np.int32))
        per_chunk["length"].append(row.length)
        per_chunk["pub"].append(row.pub)
        per_chunk["source"].append(_key(row.source))
        per_chunk["doc"].append(_key(row.doc_id))
        per_chunk["ids"].append(row.chunk_id.encode("utf-8"))
    return _save(
        parent,
        np.concatenate(keys) if keys else np.zeros(0, np.uint64),
        np.concatenate(chunk_no) if chunk_no else np.zeros(0, np.int32),
        np.concatenate(tfs) if tfs else np.zeros(0, np.uint16),
        {
            "length": np.array(per_chunk["length"], dtype=np.int32),
            "pub": np.array(per_chunk["pub"], dtype=np.int32),
            "source": np.array(per_chunk["source"], dtype=np.uint64),
            "doc": np.array(per_chunk["doc"], dtype=np.uint64),
            "ids": np.array(per_chunk["ids"], dtype=bytes),
        },
    )


def _save(
    parent: Path,
    keys: np.ndarray,
    chunk_no: np.ndarray,
    tf: np.ndarray,
    per_chunk: dict[str, np.ndarray],
    presorted_runs: bool = False,
) -> tuple[str, int, int]:
    # Postings sorted by term, within a term by chunk number. A merge passes runs that are
    # each sorted so, in chunk order: a stable sort by term alone keeps that order (and
    # timsort merges sorted runs in linear time); fresh postings come chunk by chunk.
    order = np.argsort(keys, kind="stable") if presorted_runs else np.lexsort((chunk_no, keys))
    keys, chunk_no, tf = keys[order], chunk_no[order], tf[order]
    terms, starts = np.unique(keys, return_index=True)
    indptr = np.append(starts, keys.size).astype(np.int64)
    doc_order = np.argsort(per_chunk["doc"], kind="stable").astype(np.int32)
    arrays: dict[str, np.ndarray] = {
        "terms": terms.astype(np.uint64),
        "indptr": indptr,
        "postings": chunk_no.astype(np.int32),
        "tf": tf.astype(np.uint16),
        **per_chunk,
        "docs": per_chunk["doc"][doc_order],
        "doc_order": doc_order,
    }
    name = f"s-{uuid.uuid4().hex[:12]}"
    tmp = parent / f".tmp-{name}"
    tmp.mkdir(parents=True)
    for key, arr in arrays.items():
        np.save(tmp / f"{key}.npy", arr)
    tmp.rename(parent / name)
    return name, int(per_chunk["length"].shape[0]), int(per_chunk["length"].sum())


def _merge(parent: Path, segments: list[Segment]) -> tuple[str, int, int]:
    """One segment of the live chunks of ``segments`` (in order)."""
    keys, chunk_no, tfs = [], [], []
    per_chunk: dict[str, list[np.ndarray]] = {
        "length": [], "pub": [], "source": [], "doc": [], "ids": []
    }  # fmt: skip
    offset = 0
    for seg in segments:
        live = ~seg.deleted
        renumber = np.cumsum(live, dtype=np.int64) - 1 + offset
        counts = np.diff(np.asarray(seg.a["indptr"]))
        term_of = np.repeat(np.asarray(seg.a["terms"]), counts)
        posting = np.asarray(seg.a["postings"])
        keep = live[posting]
        keys.append(term_of[keep])
        chunk_no.append(renumber[posting[keep]].astype(np.int32))
        tfs.append(np.asarray(seg.a["tf"])[keep])
        for name in per_chunk:
            per_chunk[name].append(np.asarray(seg.a[name])[live])
        offset += int(live.sum())
    width = max((a.dtype.itemsize for a in per_chunk["ids"]), default=1)
    joined = {n: np.concatenate(v) for n, v in per_chunk.items() if n != "ids"}
    joined["ids"] = np.concatenate([a.astype(f"S{width}") for a in per_chunk["ids"]])
    return _save(
        parent,
        np.concatenate(keys),
        np.concatenate(chunk_no),
        np.concatenate(tfs),
        joined,
        presorted_runs=True,
    )


class SegmentWriter:
    """Applies changes to the index in ``folder``; one writer at a time (the caller holds the
    index's writer lock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def exists(self) -> bool:
        return (self.folder / MANIFEST).is_file()

    def replace(self, remove_docs: Iterable[str], rows: list[Row]) -> None:
        """Delete every chunk of ``remove_docs`` and add ``rows``, in one manifest change.
        Replaying it after a kill gives the same index (the removal covers rows added by the
        killed attempt)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = read_manifest(self.folder) or _empty()
        segments = [
            Segment(self.folder / e["name"], e.get("deleted")) for e in manifest["segments"]
        ]
        entries = {e["name"]: dict(e) for e in manifest["segments"]}
        doc_keys = [_key(d) for d in dict.fromkeys(remove_docs)]
        for seg in segments:
            hit = [c for key in doc_keys for c in seg.chunks_of(key).tolist()]
            newly = [c for c in hit if not seg.deleted[c]]
            if not newly:
                continue
            deleted = seg.deleted.copy()
            deleted[newly] = True
            name = f"deleted-{uuid.uuid4().hex[:12]}.npy"
            np.save(seg.folder / name, deleted)
            entry = entries[seg.name]
            entry["deleted"] = name
            entry["live"] -= len(newly)
            entry["live_length"] -= int(np.asarray(seg.a["length"])[newly].sum())
            seg.deleted, seg.deleted_file = deleted, name
        order = [entries[s.name] for s in segments]
        if rows:
            name, n, length = _write_segment(self.folder, rows)
            order.append({"name": name, "deleted": None, "live": n, "live_length": length})
            segments.append(Segment(self.folder / name, None))
        order, segments = self._merge_tail(order, segments)
        self._commit(order)

    def _merge_tail(
        self, order: list[dict[str, Any]], segments: list[Segment]
    ) -> tuple[list[dict[str, Any]], list[Segment]]:
        # Drop emptied segments; merge the newest into the one before while it is at least
        # 1/MERGE_RATIO of its size; compact a segment that is mostly deletions.
        pairs = [(e, s) for e, s in zip(order, segments, strict=True) if e["live"] > 0]
        while len(pairs) >= 2 and pairs[-1][0]["live"] * MERGE_RATIO >= pairs[-2][0]["live"]:
            pairs[-2:] = [self._merged([pairs[-2][1], pairs[-1][1]])]
        for i, (entry, seg) in enumerate(pairs):
            if entry["live"] * 2 < seg.n:
                pairs[i] = self._merged([seg])
        return [e for e, _ in pairs], [s for _, s in pairs]

    def _merged(self, segments: list[Segment]) -> tuple[dict[str, Any], Segment]:
        name, n, length = _merge(self.folder, segments)
        return {"name": name, "deleted": None, "live": n, "live_length": length}, Segment(
            self.folder / name, None
        )

    def _commit(self, entries: list[dict[str, Any]]) -> None:
        manifest = {
            "format": FORMAT,
            "segments": entries,
            "live": sum(e["live"] for e in entries),
            "live_length": sum(e["live_length"] for e in entries),
        }
        tmp = self.folder / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, self.folder / MANIFEST)
        self._collect(entries)

    def _collect(self, entries: list[dict[str, Any]]) -> None:
        """Remove segments and deletion files the manifest no longer names. A reader that
        still maps them keeps its view (an unlinked file stays readable while mapped)."""
        wanted = {e["name"]: e.get("deleted") for e in entries}
        for path in self.folder.iterdir():
            if path.name == MANIFEST:
                continue
            if path.is_dir() and path.name in wanted:
                for f in path.glob("deleted-*.npy"):
                    if f.name != wanted[path.name]:
                        f.unlink(missing_ok=True)
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def rebuild(self, pages: Iterator[list[Row]]) -> None:
        """The index afresh from every chunk (an index built before this format, or a
        rebuilt collection), page by page so no page of text outlives its turn."""
        self.clear()
        for rows in pages:
            if rows:
                self.replace((), rows)

    def clear(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._commit([])


def _empty() -> dict[str, Any]:
    return {"format": FORMAT, "segments": [], "live": 0, "live_length": 0}
