"""The on-disk keyword index scores exactly as bm25s does, through adds, updates, deletions and
merges, and a reader keeps a consistent view while a writer replaces segments under it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import bm25s
import pytest
from llama_index.core.schema import TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from assistant.index.local import keyword_rows
from assistant.search import bm25
from assistant.search.segments import MANIFEST, SegmentIndex, SegmentWriter

WORDS = [f"w{i}" for i in range(2000)]
WORDS += ["nato", "ukraine", "support", "pledge", "minister", "said", "talks", "flood"]
WORDS += ["stadium", "rescue", "budget"]


def corpus(docs: int, seed: int = 1) -> dict[str, list[TextNode]]:
    rng = random.Random(seed)
    out: dict[str, list[TextNode]] = {}
    for d in range(docs):
        doc = f"d{d}"
        out[doc] = [
            TextNode(
                id_=f"{doc}:{c}",
                text=" ".join(
                    rng.choice(WORDS[:150]) if rng.random() < 0.5 else rng.choice(WORDS)
                    for _ in range(rng.randint(3, 120))
                ),
                metadata={
                    "title": f"Title {d} nato",
                    "doc_id": doc,
                    "pub_int": 20220100 + d,
                    "source": f"s{d % 7}",
                },  # fmt: skip
                excluded_embed_metadata_keys=["doc_id", "pub_int", "source"],
            )
            for c in range(rng.randint(1, 5))
        ]
    return out


def reference(nodes: list[TextNode], query: str, k: int, keep: set[str] | None = None) -> list:
    r = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=1)
    tokens = bm25s.tokenize(query, stemmer=r.stemmer, show_progress=False)
    mask = None
    if keep is not None:
        import numpy as np

        mask = np.array([c["node_id"] in keep for c in r.corpus], dtype=float)
    ids, scores = r.bm25.retrieve(tokens, k=len(nodes), show_progress=False, weight_mask=mask)
    pairs = zip(ids[0], scores[0], strict=True)
    ranked = [(r.corpus[i]["node_id"], float(s)) for i, s in pairs if s > 0]
    return ranked[:k]


def same(got: list, want: list) -> None:
    assert len(got) == len(want)
    for (_, gs), (_, ws) in zip(got, want, strict=True):
        assert gs == pytest.approx(ws, rel=1e-5)
    # Ties may come in either order; as sets per score they agree.
    assert sorted((round(s, 4), i) for i, s in got) == sorted((round(s, 4), i) for i, s in want)


QUERIES = ["nato support pledge", "flood stadium rescue w12 w12", "minister said talks w5 w1999",
           "w1 w2 w3 w4 w5 w6 w7", "budget"]  # fmt: skip


def test_adds_updates_and_deletions_score_like_a_fresh_bm25s(tmp_path: Path) -> None:
    docs = corpus(300)
    writer = SegmentWriter(tmp_path / "kw")
    ids = list(docs)
    for lo in range(0, len(ids), 23):  # many small writes: merges happen along the way
        batch = ids[lo : lo + 23]
        writer.replace(batch, keyword_rows([n for d in batch for n in docs[d]]))
    changed = corpus(300, seed=2)  # documents 10..59 get new texts
    for d in ids[10:60]:
        docs[d] = changed[d]
    writer.replace(ids[10:60], keyword_rows([n for d in ids[10:60] for n in docs[d]]))
    for d in ids[100:140]:
        del docs[d]
    writer.replace(ids[100:140], [])
    writer.replace(ids[5:8], keyword_rows([n for d in ids[5:8] for n in docs[d]]))  # a replay

    index = SegmentIndex.open(tmp_path / "kw")
    assert index is not None
    live = [n for ns in docs.values() for n in ns]
    assert index.live == len(live)
    for query in QUERIES:
        got = [(h.chunk_id, h.score) for h in index.search(bm25.analyze(query), 20)]
        same(got, reference(live, query, 20))
    # Filters: dates and sources, as the bm25s weight mask applied them.
    keep = {n.node_id for n in live if n.metadata["pub_int"] >= 20220250
            and n.metadata["source"] in ("s1", "s3")}  # fmt: skip
    got = index.search(bm25.analyze("nato w1 w2 said"), 15, since=20220250, sources=["s1", "s3"])
    same([(h.chunk_id, h.score) for h in got], reference(live, "nato w1 w2 said", 15, keep))
    # Leaving documents out (an evaluation asking without its gold articles).
    top = index.search(bm25.analyze("nato w1 w2 said"), 5)
    out = {h.chunk_id.rsplit(":", 1)[0] for h in top}
    keep = {n.node_id for n in live if n.metadata["doc_id"] not in out}
    got = index.search(bm25.analyze("nato w1 w2 said"), 15, exclude_docs=sorted(out))
    same([(h.chunk_id, h.score) for h in got], reference(live, "nato w1 w2 said", 15, keep))
    r = BM25Retriever.from_defaults(nodes=live, similarity_top_k=1)
    model = r.bm25
    df = int(model.scores["indptr"][model.vocab_dict["nato"] + 1] -
             model.scores["indptr"][model.vocab_dict["nato"]])  # fmt: skip
    assert index.idf("nato") == pytest.approx(bm25.idf(df, len(live)))
    assert index.idf("zzyzx") is None
    assert index.newest == max(n.metadata["pub_int"] for n in live)


def test_segments_stay_few_and_deleted_space_is_reclaimed(tmp_path: Path) -> None:
    docs = corpus(160)
    writer = SegmentWriter(tmp_path / "kw")
    for d, nodes in docs.items():  # one document per write: the worst case for segment count
        writer.replace([d], keyword_rows(nodes))
    manifest = json.loads((tmp_path / "kw" / MANIFEST).read_text())
    assert len(manifest["segments"]) <= 10  # O(log N), not one per write
    writer.replace(list(docs)[:140], [])
    manifest = json.loads((tmp_path / "kw" / MANIFEST).read_text())
    # Mostly-deleted segments are compacted: what remains holds few dead chunks.
    index = SegmentIndex.open(tmp_path / "kw")
    assert index is not None
    dead = sum(int(s.deleted.sum()) for s in index.segments)
    assert dead <= index.live
    on_disk = {p.name for p in (tmp_path / "kw").iterdir() if p.is_dir()}
    assert on_disk == {e["name"] for e in manifest["segments"]}  # old segments collected


def test_a_reader_keeps_its_view_while_the_writer_moves_on(tmp_path: Path) -> None:
    docs = corpus(60)
    writer = SegmentWriter(tmp_path / "kw")
    writer.replace(list(docs), keyword_rows([n for ns in docs.values() for n in ns]))
    old = SegmentIndex.open(tmp_path / "kw")
    assert old is not None
    before = [(h.chunk_id, h.score) for h in old.search(bm25.analyze("nato w1"), 10)]
    more = corpus(60, seed=3)
    for d in list(more)[:30]:  # the same ids, new texts: the old segment gets tombstones
        writer.replace([d], keyword_rows(more[d]))
    writer.replace(list(docs)[30:], [])
    # The reader's segments were replaced and deleted on disk; its mapped view still answers.
    assert [(h.chunk_id, h.score) for h in old.search(bm25.analyze("nato w1"), 10)] == before
    new = SegmentIndex.open(tmp_path / "kw", old)
    assert new is not None and new.live == sum(len(more[d]) for d in list(more)[:30])
