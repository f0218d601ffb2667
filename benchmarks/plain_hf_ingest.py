"""The honest baseline: plain llama-index with sentence-transformers on torch, one process.

    BASELINE_VENV/bin/python benchmarks/plain_hf_ingest.py CORPUS.jsonl WORK MODEL_DIR \
        [--chunk-size 200 --chunk-overlap 30 --tokenizer cl100k_base]

SentenceSplitter -> VectorStoreIndex -> Chroma with ``HuggingFaceEmbedding`` (torch fp32) on
the all-MiniLM-L6-v2 weights in MODEL_DIR, as llama-index's docs show it; the embedded text is
title + chunk, as the assistant's. Runs in its own venv (torch is no dependency of ours) and
imports nothing of the assistant. Prints one JSON line: chunks and in-process seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def plain_index(
    corpus: Path, collection: Any, embed_model: Any, chunk_size: int, overlap: int, tokenizer: str
) -> list[Any]:
    """SentenceSplitter -> VectorStoreIndex -> Chroma, as llama-index's docs show it; the nodes."""
    import tiktoken
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    docs = []
    for line in corpus.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        meta = {"title": rec.get("title", ""), "published": rec.get("publish_date", "")}
        meta["url"] = rec.get("url", "")
        docs.append(
            Document(
                text=rec["text"],
                metadata=meta,
                # the text the assistant embeds (title + chunk); the URL would also crash
                # the splitter on the corpus's tracking URLs
                excluded_embed_metadata_keys=["url", "published"],
                excluded_llm_metadata_keys=["url"],
            )
        )
    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        tokenizer=tiktoken.get_encoding(tokenizer).encode,
    )
    nodes = splitter.get_nodes_from_documents(docs)
    storage = StorageContext.from_defaults(
        vector_store=ChromaVectorStore(chroma_collection=collection)
    )
    VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
    return list(nodes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("model_dir")
    ap.add_argument("--chunk-size", type=int, default=200)
    ap.add_argument("--chunk-overlap", type=int, default=30)
    ap.add_argument("--tokenizer", default="cl100k_base")
    args = ap.parse_args()

    import chromadb
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    t0 = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=args.model_dir, device="cpu")
    client = chromadb.PersistentClient(path=str(args.work / "plain-hf"))
    collection = client.get_or_create_collection("plain", metadata={"hnsw:space": "cosine"})
    nodes = plain_index(
        args.corpus, collection, embed, args.chunk_size, args.chunk_overlap, args.tokenizer
    )
    print(json.dumps({"chunks": len(nodes), "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
