"""What LLM answering adds on top of retrieval, apart from the model itself.

Builds an index of the sample corpus in a temp dir and answers the same questions with the
extractive answerer (the baseline) and with the LLM path against an instant scripted
OpenAI-compatible server on 127.0.0.1 (tests/support/fake_llm.py), so the difference is our
own work: fitting evidence, the HTTP round trip through llama-index's OpenAILike, and
verification.
Verification alone is timed on the same scripted answers. Sentence-vector caches are
cleared before every run (a new question usually cites passages not seen before), so all
columns are cold. Prints medians over --runs.

    python benchmarks/llm_verification.py [--runs 7]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assistant  # noqa: E402,F401  (offline switches first)
from assistant.answer.llm import LLMAnswerer, build_evidence  # noqa: E402
from assistant.answer.verification import Evidence  # noqa: E402
from assistant.app import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from tests.support.fake_llm import FakeLLM, Running, Seen  # noqa: E402

QUESTIONS = [
    ("What support did NATO pledge to Ukraine?", ["long-term support", "as long as it takes"]),
    ("What is NATO delivering to Ukraine?", ["drone jammers"]),
    ("What did Stoltenberg say about China?", ["not an adversary"]),
    ("Where will the NATO foreign ministers meet?", ["Brussels over", "Bucharest"]),
]
EVIDENCE = re.compile(r'<evidence id="(\d+)"[^>]*>\n(.*?)\n</evidence>', re.S)


def scripted(seen: Seen) -> str:
    """Quote the sentence around each phrase the question is about, citing its passage."""
    blocks = {int(n): t for n, t in EVIDENCE.findall(seen.prompt)}
    question = seen.prompt.rsplit("Question:", 1)[-1]
    phrases = next(p for q, p in QUESTIONS if q in question)
    out = []
    for phrase in phrases:
        for n, text in blocks.items():
            if phrase in text:
                i = text.index(phrase)
                start = max(text.rfind(". ", 0, i) + 2, 0)
                end = text.find(". ", i)
                out.append(f"{text[start : end if end > 0 else len(text)].rstrip('.')} [{n}].")
                break
    return " ".join(out)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cold(a: Assistant, answerer: LLMAnswerer, q: str) -> object:
    # sentence vectors are cached between questions; a new question usually cites passages
    # not seen before, so every column is timed without them
    a.answerer._vectors.clear()
    answerer.verifier._vectors.clear()
    return a.ask(q)


def cold_verify(
    answerer: LLMAnswerer, reply: str, ev: list[Evidence], texts: dict[str, str]
) -> object:
    answerer.verifier._vectors.clear()
    return answerer.verifier.verify(reply, ev, texts, [])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    try:
        shutil.copytree(ROOT / "corpus", tmp / "corpus")
        base = Assistant(Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus"))
        base.ingest()
        with Running(FakeLLM()) as fake:
            fake.responder = scripted
            llm = base.with_settings(llm="openai", llm_base_url=f"{fake.url}/v1", llm_retries=0)
            assert llm.llm is not None
            answerer = llm.llm
            rows = []
            verified = 0
            for q, _ in QUESTIONS:
                base.ask(q)  # warm the BM25 index and the model before timing
                answer = llm.ask(q)
                verified += (answer.verification or {}).get("verified", 0)
                hits = base.retrieve(q)
                texts = base.store.doc_texts([h.chunk.doc_id for h in hits])
                budget = answerer.evidence_budget(q)
                ev = build_evidence(hits, texts, budget, answerer.count_tokens)
                reply = fake.responder(fake.requests[-1])
                rows.append(
                    (
                        q,
                        median_ms(lambda q=q: cold(base, answerer, q), args.runs),
                        median_ms(lambda q=q: cold(llm, answerer, q), args.runs),
                        median_ms(
                            lambda r=reply, e=ev, t=texts: cold_verify(answerer, r, e, t),
                            args.runs,
                        ),
                    )
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"sample corpus, {args.runs} runs each, medians in ms, cold caches; instant LLM server")
    print(f"{'question':46} {'extractive':>10} {'LLM path':>9} {'ratio':>6} {'verify':>7}")
    for q, e, ll, v in rows:
        print(f"{q[:46]:46} {e:10.1f} {ll:9.1f} {ll / e:6.2f} {v:7.1f}")
    e_med = statistics.median(r[1] for r in rows)
    l_med = statistics.median(r[2] for r in rows)
    v_med = statistics.median(r[3] for r in rows)
    print(f"{'median':46} {e_med:10.1f} {l_med:9.1f} {l_med / e_med:6.2f} {v_med:7.1f}")
    print(f"sentences verified across the questions: {verified}")


if __name__ == "__main__":
    main()
