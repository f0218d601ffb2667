"""The news steps after rank fusion, each a llama-index node postprocessor: the date vote, the
lead vote, documents before second chunks, near-duplicate copies; and the lead vote through
the real retriever."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from assistant.app import Assistant
from assistant.index.store import chunk_number
from assistant.search.postprocess import DatePrior, DocumentsFirst, LeadPrior, NearDuplicates
from tests.support.samples import make_settings
from tests.support.tinyqa import write_dataset


def nws(cid: str, score: float, text: str = "", published: int = 0) -> NodeWithScore:
    doc = cid.rpartition(":")[0]
    meta = {"doc_id": doc, "pub_int": published}
    return NodeWithScore(node=TextNode(id_=cid, text=text or cid, metadata=meta), score=score)


def ids(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.node_id for n in nodes]


def test_chunk_number_reads_ingestions_ids() -> None:
    assert chunk_number("rtqa-5b14:0") == 0
    assert chunk_number("folder/a:b.txt:12") == 12
    assert chunk_number("no-number") == -1 and chunk_number("x:") == -1


def test_the_lead_vote_lifts_first_chunks_only() -> None:
    nodes = [nws("b:3", 0.030), nws("a:0", 0.025), nws("c:1", 0.020), nws("c:0", 0.001)]
    out = LeadPrior(vote=0.01).postprocess_nodes(nodes)
    assert ids(out) == ["a:0", "b:3", "c:1", "c:0"]
    assert [n.score for n in out] == pytest.approx([0.035, 0.030, 0.020, 0.011])
    # A vote cannot lift an unrelated lead above a clearly better match.
    assert (
        ids(LeadPrior(vote=0.01).postprocess_nodes([nws("b:3", 0.05), nws("a:0", 0.01)]))[0]
        == "b:3"
    )
    unchanged = [nws("b:3", 0.03), nws("a:0", 0.025)]
    assert ids(LeadPrior(vote=0.0).postprocess_nodes(unchanged)) == ["b:3", "a:0"]


def test_the_date_vote_prefers_the_questions_window_and_can_demote_the_future() -> None:
    as_of = date(2022, 6, 16)
    nodes = [nws("old:0", 0.03, published=20210610), nws("new:0", 0.025, published=20220613),
             nws("future:0", 0.028, published=20220701)]  # fmt: skip
    step = DatePrior(as_of=as_of, window_vote=0.01, recency_vote=0.0, recency_days=30,
                     future_penalty=0.5)  # fmt: skip
    out = step.postprocess_nodes(nodes, query_str="What did the ministry expand this week?")
    assert ids(out) == ["new:0", "old:0", "future:0"]
    # No time named and no recency vote: only the future is demoted.
    nodes = [nws("old:0", 0.03, published=20210610), nws("future:0", 0.031, published=20220701)]
    out = step.postprocess_nodes(nodes, query_str="What did the ministry expand?")
    assert ids(out) == ["old:0", "future:0"]


def test_documents_first_then_second_chunks() -> None:
    nodes = [nws("a:2", 0.05), nws("a:0", 0.04), nws("b:1", 0.03), nws("a:1", 0.02)]
    assert ids(DocumentsFirst().postprocess_nodes(nodes)) == ["a:2", "b:1", "a:0", "a:1"]


def test_near_duplicates_are_dropped_and_the_cut_is_made() -> None:
    same = "the harbor bridge reopened after eight months of repairs"
    nodes = [nws("a:0", 0.05, same), nws("copy:0", 0.04, same + " today"),
             nws("b:0", 0.03, "lantern festival crowds"), nws("c:0", 0.02, "chess")]  # fmt: skip

    def word_set(_cid: str, text: str) -> frozenset[str]:
        return frozenset(text.split())

    out = NearDuplicates(threshold=0.8, limit=2, word_set=word_set).postprocess_nodes(nodes)
    assert ids(out) == ["a:0", "b:0"]
    off = NearDuplicates(threshold=1.0, limit=3, word_set=word_set).postprocess_nodes(nodes)
    assert ids(off) == ["a:0", "copy:0", "b:0"]


def test_the_retriever_gives_each_lead_exactly_one_vote(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "tinyqa")
    # Small chunks, so that every article has a lead and later chunks.
    a = Assistant(make_settings(tmp_path, chunk_size=32, chunk_overlap=0, lead_boost=0.0))
    a.ingest([data / "corpus.jsonl"])
    question = "Ostrava valley drought relief plan farmers wells"
    plain = {h.chunk.id: h.score for h in a.retrieve(question, top_k=20, as_of="2022-06-16")}
    a.settings.retrieval.lead_boost = 0.5
    boosted = a.retrieve(question, top_k=20, as_of="2022-06-16")
    vote = 0.5 / (a.settings.retrieval.rrf_k + 1)
    leads = [h for h in boosted if chunk_number(h.chunk.id) == 0]
    later = [h for h in boosted if chunk_number(h.chunk.id) > 0]
    assert leads and later
    for h in leads:
        assert h.score == pytest.approx(plain[h.chunk.id] + vote)
    for h in later:
        assert h.score == pytest.approx(plain[h.chunk.id])
