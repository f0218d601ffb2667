"""What LLM answering adds on top of retrieval, apart from the model itself.

Builds an index of the sample corpus in a temp dir and answers the same questions with the
extractive answerer (the baseline) and with the LLM path against an instant scripted
OpenAI-compatible server on 127.0.0.1 (tests/support/fake_llm.py), so the difference is our
own work: fitting evidence, the HTTP round trip through llama-index's OpenAILike, and
verification.
Verification alone is timed on the same scripted answers. Sentence-vector caches are
cleared before every run (a new question usually cites passages not seen before), so all
columns are cold. Prints medians over --runs.

Then what verification keeps: sentences of known truth about the sample corpus, each in the
forms models write (the right marker, a wrong one, none), each verified alone against the
evidence its question retrieves. A true sentence should be kept whatever its marker (it is
re-cited); a false one (a negation, another figure, a detail no passage gives) never.

    python benchmarks/llm_verification.py [--runs 7] [--quality-only]
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
# (question, sentence, true?, a phrase of the passage that says it; "" for false ones)
LABELLED = [
    (QUESTIONS[0][0], "Stoltenberg said NATO will reaffirm its long-term support to Ukraine.",
     True, "long-term support"),
    (QUESTIONS[0][0], "NATO will continue to stand with Ukraine for as long as it takes, "
     "Stoltenberg said.", True, "as long as it takes"),
    (QUESTIONS[0][0], "Stoltenberg said NATO will not reduce its support for Ukraine.",
     True, "not reduce"),
    (QUESTIONS[0][0], "Stoltenberg said NATO would keep supporting Kyiv on its path to NATO "
     "membership.", True, "path to NATO membership"),
    (QUESTIONS[0][0], "Stoltenberg expects the foreign ministers to step up non-lethal support "
     "at the Bucharest meeting.", True, "non-lethal support"),
    (QUESTIONS[1][0], "NATO has been delivering fuel, medical supplies, winter equipment and "
     "drone jammers to Ukraine.", True, "drone jammers"),
    (QUESTIONS[1][0], "According to Stoltenberg, NATO is sending fuel, medical supplies and "
     "drone jammers.", True, "drone jammers"),
    (QUESTIONS[2][0], "Stoltenberg said China is not an adversary, but that Beijing's actions "
     "challenge NATO's security.", True, "not an adversary"),
    (QUESTIONS[2][0], "He welcomed recent discussions between China and the Allies, saying "
     "dialogue is important.", True, "dialogue is important"),
    (QUESTIONS[3][0], "The NATO foreign ministers are meeting in Brussels.", True,
     "Brussels over"),
    (QUESTIONS[3][0], "The 2022 foreign ministers meeting was to take place in Bucharest, "
     "Romania.", True, "Bucharest, Romania"),
    (QUESTIONS[0][0], "Stoltenberg said Ukraine has recaptured 50 percent of the territory "
     "that Russia had seized.", True, "50 percent"),
    (QUESTIONS[0][0], "NATO will reduce its support for Ukraine.", False, ""),
    (QUESTIONS[0][0], "Stoltenberg said NATO will not stand with Ukraine for as long as it "
     "takes.", False, ""),
    (QUESTIONS[0][0], "Stoltenberg said Ukraine has recaptured 70 percent of the territory "
     "that Russia had seized.", False, ""),
    (QUESTIONS[0][0], "NATO personnel have trained Ukrainian forces inside Ukraine.", False, ""),
    (QUESTIONS[1][0], "NATO has been delivering fighter jets and tanks to Ukraine.", False, ""),
    (QUESTIONS[1][0], "NATO has been delivering fuel, medical supplies and fighter jets to "
     "Ukraine.", False, ""),
    (QUESTIONS[2][0], "Stoltenberg said China is an adversary of NATO.", False, ""),
    (QUESTIONS[2][0], "Stoltenberg said dialogue with China is not important.", False, ""),
    (QUESTIONS[3][0], "The NATO foreign ministers are meeting in Warsaw.", False, ""),
    (QUESTIONS[3][0], "The 2022 foreign ministers meeting was to take place in Brussels, "
     "Belgium, in March.", False, ""),
]  # fmt: skip
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


def quality(base: Assistant, answerer: LLMAnswerer) -> None:
    """Print how many true sentences are kept and false ones pass, by marker form."""
    kept: dict[str, list[int]] = {"right": [], "wrong": [], "none": []}
    passed: dict[str, list[int]] = {"right": [], "wrong": [], "none": []}
    lost: list[str] = []
    for question, sentence, true, phrase in LABELLED:
        hits = base.retrieve(question)
        texts = base.store.doc_texts([h.chunk.doc_id for h in hits])
        ev = build_evidence(hits, texts, answerer.evidence_budget(question), answerer.count_tokens)
        right = next((e.n for e in ev if phrase and phrase in e.text), None)
        if true and right is None:
            lost.append(f"no passage retrieved for {phrase!r}")
            continue
        other = next((e.n for e in ev if e.n != right), right)
        forms = {"right": right or ev[0].n, "wrong": other, "none": None}
        for form, n in forms.items():
            reply = sentence[:-1] + (f" [{n}]." if n is not None else ".")
            verified = answerer.verifier.verify(reply, ev, texts, []).verification or {}
            ok = int(verified.get("verified", 0) == 1)
            (kept if true else passed)[form].append(ok)
            if true and not ok:
                lost.append(f"true, {form} marker, not kept: {sentence}")
            if not true and ok:
                lost.append(f"FALSE, {form} marker, passed: {sentence}")
    trues = sum(t for *_, t, _ in LABELLED)
    print(f"\nverification on {trues} true and {len(LABELLED) - trues} false sentences:")
    print(f"{'marker':8} {'true kept':>10} {'false passed':>13}")
    for form in kept:
        k, p = kept[form], passed[form]
        print(
            f"{form:8} {sum(k):>4}/{len(k):<3} {sum(k) / max(len(k), 1):4.0%} {sum(p):>6}/{len(p)}"
        )
    all_k = [x for v in kept.values() for x in v]
    all_p = [x for v in passed.values() for x in v]
    print(f"{'all':8} {sum(all_k):>4}/{len(all_k):<3} {sum(all_k) / max(len(all_k), 1):4.0%} "
          f"{sum(all_p):>6}/{len(all_p)}")  # fmt: skip
    for line in lost:
        print("  " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--quality-only", action="store_true", help="skip the timings")
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
            quality(base, answerer)
            if args.quality_only:
                return
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
