"""Claim-by-claim verification of an LLM's answer against the passages it was given.

A model's ``[n]`` markers are a claim about its sources, not a fact: models cite the wrong
passage, cite passages they were never given, and write sentences no passage supports. So the
answer is split into sentences and each marked sentence is checked against each passage it
cites, before anything reaches the user:

- lexical support: the share of the sentence's stemmed content terms (idf-weighted) that the
  passage's sentence(s) contain;
- semantic support: the embedding similarity of sentence and passage sentence(s), with the
  assistant's own embedder;
- names and numbers the sentence states must appear in the cited document's evidence;
- fuzzy alignment (rapidfuzz) locates where in the passage a near-verbatim sentence comes from.

The best-supporting span, widened to whole sentences of the stored document, becomes the
citation's ``quote`` with its exact offsets, so a quote is always a verbatim substring of the
stored text. Markers to evidence the model was not given, or that does not support the
sentence, are removed; sentences left without support are dropped or marked, per
``llm_unsupported``; citations are renumbered in order of first use.

A sentence citing several passages is first checked against each alone; if that leaves some
citations unsupported, the passages are checked together: jointly they must cover it, and each
must add terms the others lack (a citation that adds nothing is removed).

What this cannot catch: a sentence that reuses a passage's words to say something it does not
(a negation, a swapped subject), or adds a small detail to a sentence that is otherwise
supported. That needs an entailment model; the assistant runs none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from rapidfuzz import fuzz

from assistant.answer.extractive import NO_ANSWER, Draft
from assistant.index.embedding import SpanVectors
from assistant.settings import Settings
from assistant.text import question_entities, stem, strip_thinking, terms, words
from assistant.text import sentence_spans as _sentence_spans
from assistant.types import Citation, Hit

UNVERIFIED = "[unverified]"
MIN_LEXICAL = 0.45  # below this share of its terms a passage cannot support a sentence...
MIN_SEMANTIC = 0.55  # ...nor below this similarity, however well the other signal scores
MAX_SPAN_SENTENCES = 3  # a quote longer than this would support almost anything
MIN_PART = 0.2  # share of a sentence's terms each passage must give to a joint claim...
MIN_COMBINED_LEXICAL = 0.6  # ...and the share the passages must give together
# Every term of the sentence is in the span: a long span's embedding is diluted by what the
# sentence leaves out, so similarity may sit lower (word order and polarity are checked apart).
FULL_LEXICAL, MIN_SEMANTIC_FULL = 0.9, 0.45
# A negation flips a sentence with the same words: a negated sentence must restate its span.
MIN_NEGATED_LEXICAL = 0.7
# Share of a sentence's (idf-weighted) terms found nowhere in what the model was shown of the
# document: above it, the sentence says something the document does not. A paraphrase swaps
# single words ("urged ... to ratify" for "called on ... to complete the ratification"); two
# neighbouring terms the document lacks name a thing it never mentions ("fuel and fighter
# jets" where the passage lists fuel only), whatever their share.
MAX_UNSTATED = 1 / 3
# A passage the model did not cite must support a sentence more clearly than one it did: a
# sentence joining two facts is otherwise re-cited to the passage holding one of them.
RECITE_MARGIN = 0.1

# "[1]", "[1, 2]", "[1-3]", and the "[Evidence 2]" / "[id=3]" some models write instead
_ONE_MARKER = (
    r"\[\s*(?:(?:evidence|passage|source|doc|document|id)\s*[=:#]?\s*)?"
    r"(\d+(?:\s*[,;–-]\s*\d+)*)\s*\]"
)
_MARKER = re.compile(_ONE_MARKER, re.I)
_LEADING_MARKERS = re.compile(rf"^(?:\s*{_ONE_MARKER})+", re.I)
_GLUED = re.compile(r"([.!?])(\[)")  # "sentence.[1] Next" -> "sentence. [1] Next"
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
# "**Answer:**", "Answer:", "Short answer -": a label, not a claim
_LABEL = re.compile(
    r"^[ \t]*(?:[#>]+[ \t]*)?[*_]{0,2}(?:final |short |the )?(?:answer|response|summary)"
    r"[*_]{0,2}[ \t]*[:\-–][*_]{0,2}[ \t]*",
    re.I | re.M,
)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
# Refusals in the words models use instead of the exact sentence they were given.
_REFUSAL = re.compile(
    r"^(?:(?:i'?m sorry|unfortunately|sorry)[, ]+)?(?:(?:the |these |this )?(?:provided |given )?"
    r"(?:documents?|evidence|passages?|sources?|context|texts?)\s+(?:do|does|did)\s*(?:n't|not)"
    r"\s+(?:contain|say|answer|mention|provide|include|state|specify|address)"
    r"|i (?:cannot|can't|could not|couldn't|am unable to) (?:find|answer|determine))",
    re.I,
)
# A claim and its support must agree on whether something did not happen.
_NEGATION = re.compile(r"\b(?:not|no|never|none|nor|neither|without)\b|n't\b", re.I)
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


@dataclass
class Evidence:
    """One numbered passage given to the model: whole sentences of one stored document."""

    n: int
    hit: Hit
    doc_id: str
    start: int
    end: int
    sentences: list[tuple[int, int]]  # offsets in the stored document text
    text: str  # doc[start:end]


@dataclass
class Claim:
    """One sentence of the model's answer."""

    text: str  # as written, markers removed
    cited: list[int]  # evidence ids its markers name, in order, without repeats
    sep: str  # what separated it from the sentence before: "", " ", "\n" or "\n\n"


@dataclass
class Support:
    score: float
    start: int
    end: int


@dataclass
class _Option:
    """One passage a claim cites, with its spans that share enough terms with the claim."""

    n: int
    doc_id: str
    alone: bool  # every name and figure of the claim is in this document
    cands: list[tuple[int, int, float]]  # (start, end, term coverage)
    dated: str = ""  # the passage's publication date, as words


@dataclass
class _Plan:
    weights: dict[str, float]
    names: list[str]
    numbers: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)  # the claim's terms as written
    options: list[_Option] = field(default_factory=list)


@dataclass
class _Kept:
    claim: Claim
    numbers: list[int] = field(default_factory=list)  # renumbered citations; [] = unverified
    lead: bool = False  # a lead-in ("NATO pledged:") kept for the list below it


def _is_lead(claim: Claim) -> bool:
    return claim.text.rstrip().endswith(":")


def _with_leads(checks: list[tuple[Claim, list[int]]]) -> list[tuple[Claim, list[int]]]:
    out: list[tuple[Claim, list[int]]] = []
    lead = ""
    for claim, valid in checks:
        if _is_lead(claim):
            lead = claim.text.rstrip().rstrip(":").strip()
            out.append((claim, valid))
            continue
        item = _BULLET.match(claim.text)
        if item and lead and claim.sep != " ":
            text = f"{lead} {claim.text[item.end() :].strip()}"
            out.append((Claim(text, claim.cited, claim.sep), valid))
            continue
        lead = ""
        out.append((claim, valid))
    return out


def _leads_in(claim: Claim, rest: list[tuple[Claim, list[int]]]) -> bool:
    """A line ending in a colon right above list items: it says nothing on its own, so it
    is kept when an item under it is (and not checked as a claim)."""
    return _is_lead(claim) and bool(rest) and rest[0][0].sep != " "


def _followed(kept: list[_Kept], i: int) -> bool:
    return i + 1 < len(kept) and not kept[i + 1].lead and bool(kept[i + 1].numbers)


def split_claims(answer: str) -> list[Claim]:
    """Sentences of the answer with the markers each carries. Markers written after a full
    stop ("... Brussels. [2]") belong to the sentence before them."""
    answer = _GLUED.sub(r"\1 \2", answer)
    claims: list[Claim] = []
    prev_end = 0
    for a, b in _sentence_spans(answer):
        s = answer[a:b]
        sep = _separator(answer[prev_end:a]) if claims else ""
        prev_end = b
        lead = _LEADING_MARKERS.match(s)
        if lead and claims:
            _add_unique(claims[-1].cited, _marker_numbers(lead.group(0)))
            s = s[lead.end() :].strip()
            if not s:
                continue
        cited: list[int] = []
        _add_unique(cited, _marker_numbers(s))
        text = _MARKER.sub("", s)
        text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
        if text:
            claims.append(Claim(text, cited, sep))
        elif claims:  # a line of markers only
            _add_unique(claims[-1].cited, cited)
    return claims


def _marker_numbers(s: str) -> list[int]:
    out: list[int] = []
    for m in _MARKER.finditer(s):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
                lo, hi = (int(x) for x in re.split(r"\s*[–-]\s*", part))
                out.extend(range(lo, hi + 1) if 0 <= hi - lo <= 20 else [lo, hi])
            elif part.strip().isdigit():
                out.append(int(part))
    return out


def _add_unique(target: list[int], items: list[int]) -> None:
    for i in items:
        if i not in target:
            target.append(i)


def _separator(gap: str) -> str:
    if "\n\n" in gap or gap.count("\n") >= 2:
        return "\n\n"
    return "\n" if "\n" in gap else " "


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", _MARKER.sub("", text).lower()).split())


def is_refusal(sentence: str, refusals: list[str]) -> bool:
    s = _normal(sentence)
    if any(r and s.startswith(r) for r in map(_normal, refusals)):
        return True
    return bool(_REFUSAL.match(_MARKER.sub("", sentence).strip().strip("*_ ")))


def strip_labels(answer: str) -> str:
    """The answer without markdown labels ("**Answer:**") and bold or italic marks."""
    return _EMPHASIS.sub(r"\2", _LABEL.sub("", answer))


def _negations(text: str) -> int:
    return len(_NEGATION.findall(text))


def _closest_sentence(claim: str, span: str) -> str:
    """The sentence of ``span`` that shares the most words with ``claim`` (a span may hold
    up to three sentences; the one the claim restates is the one whose polarity counts)."""
    mine = set(words(claim.lower()))
    pieces = [span[a:b] for a, b in _sentence_spans(span)] or [span]
    return max(pieces, key=lambda p: len(mine & set(words(p.lower()))))


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


class Verifier:
    """Checks an answer's sentences against the evidence they cite; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        embed: Callable[[list[str]], np.ndarray] | None,
        idf: Callable[[str], float | None],
    ) -> None:
        self.settings = settings
        self.embed = embed
        self.idf = idf
        self._vectors = SpanVectors(self._embed)

    def verify(
        self,
        answer: str,
        evidence: list[Evidence],
        doc_texts: dict[str, str],
        refusals: list[str],
    ) -> Draft:
        answer = strip_labels(strip_thinking(answer)).strip()
        claims = split_claims(answer)
        by_id = {e.n: e for e in evidence}
        refused = False
        counts = {"verified": 0, "marked": 0, "dropped": 0, "markers_removed": 0, "recited": 0}
        checks: list[tuple[Claim, list[int]]] = []
        for claim in claims:
            if is_refusal(claim.text, refusals):
                refused = True
                continue
            valid = [n for n in claim.cited if n in by_id]
            counts["markers_removed"] += len(claim.cited) - len(valid)
            checks.append((claim, valid))
        # A list item is checked as its lead-in says it: "NATO is delivering: - fuel" claims
        # "NATO is delivering fuel"; the item alone is a fragment that anything could match.
        asserted = _with_leads(checks)
        supports = self._supports(asserted, by_id, doc_texts)
        counts["recited"] = self._recite(asserted, supports, by_id, doc_texts)

        kept: list[_Kept] = []
        seps: list[str] = []  # separators of sentences dropped since the last kept one
        keys: dict[tuple[str, int, int], int] = {}
        citations: list[Citation] = []
        for i, ((claim, valid), found) in enumerate(zip(checks, supports, strict=True)):
            counts["markers_removed"] += len(set(valid) - {n for n, _ in found})
            if not found and _leads_in(claim, checks[i + 1 :]):
                kept.append(_Kept(Claim(claim.text, [], _strongest([*seps, claim.sep])), lead=True))
                seps = []
                continue
            if not found and self.settings.llm.unsupported == "drop":
                counts["dropped"] += 1
                seps.append(claim.sep)
                continue
            item = _Kept(Claim(claim.text, claim.cited, _strongest([*seps, claim.sep])))
            seps = []
            for n, sup in found:
                ev = by_id[n]
                key = (ev.doc_id, sup.start, sup.end)
                if key not in keys:
                    keys[key] = len(citations) + 1
                    citations.append(_citation(keys[key], ev, doc_texts[ev.doc_id], sup))
                if keys[key] not in item.numbers:
                    item.numbers.append(keys[key])
            counts["verified" if found else "marked"] += 1
            kept.append(item)

        kept = [k for i, k in enumerate(kept) if not k.lead or _followed(kept, i)]
        notices = _notices(counts)
        if counts["verified"] == 0:
            if not claims:
                notices.insert(0, "the model returned an empty answer")
            elif not refused:
                notices.insert(0, "no sentence of the model's answer is supported by its citations")
            return Draft(False, NO_ANSWER, [], notices, counts)
        first = next((i for i, (c, _) in enumerate(checks) if not _is_lead(c)), None)
        lost = first is not None and not supports[first]
        return Draft(True, _compose(kept), citations, notices, counts, lost_opening=lost)

    def _recite(
        self,
        checks: list[tuple[Claim, list[int]]],
        supports: list[list[tuple[int, Support]]],
        by_id: dict[int, Evidence],
        doc_texts: dict[str, str],
    ) -> int:
        """Give a sentence its markers do not support (or that has none) the marker of the
        passage that does: models cite the passage beside the right one, or forget to. Each
        passage is tried alone, by the same tests; a sentence none supports stays unsupported.
        Returns how many sentences were re-cited."""
        todo = [i for i, found in enumerate(supports) if not found and not _is_lead(checks[i][0])]
        if not todo or not by_id:
            return 0
        ids = sorted(by_id)
        trials = [(checks[i][0], [n]) for i in todo for n in ids]
        results = self._supports(trials, by_id, doc_texts)
        recited = 0
        bar = self.settings.llm.verify_threshold + RECITE_MARGIN
        for j, i in enumerate(todo):
            found = results[j * len(ids) : (j + 1) * len(ids)]
            options = [f[0] for f in found if f and f[0][1].score >= bar]
            if options:
                supports[i] = [max(options, key=lambda o: o[1].score)]
                recited += 1
        return recited

    # --- support --------------------------------------------------------------------------
    def _supports(
        self,
        checks: list[tuple[Claim, list[int]]],
        by_id: dict[int, Evidence],
        doc_texts: dict[str, str],
    ) -> list[list[tuple[int, Support]]]:
        """For each claim, the cited evidence ids that support it, with the supporting span.

        The cheap tests run first (names, figures, term coverage), so only spans that could
        still pass are embedded: embedding every sentence of every cited passage would cost
        more than all the rest of answering.
        """
        vocab = _document_vocabulary(by_id.values())
        plans: list[_Plan] = []
        spans: dict[tuple[str, int, int], str] = {}
        for claim, valid in checks:
            order = terms(claim.text)
            plan = _Plan(self._weights(order), question_entities(claim.text))
            plan.numbers = _numbers(claim.text)
            plan.order = order
            floor = MIN_PART if len(valid) > 1 else MIN_LEXICAL
            for n in valid:
                ev = by_id[n]
                alone = _states_only(plan, [vocab[ev.doc_id]])
                if not alone and len(valid) == 1:
                    continue
                doc = doc_texts[ev.doc_id]
                # the passage's date was shown with it: "in 2023" is covered by its header
                dated = " " + (ev.hit.chunk.published or "").replace("-", " ")
                cands = [
                    (a, b, lex)
                    for a, b in _candidates(claim.text, ev)
                    if (lex := _coverage(plan.weights, doc[a:b] + dated)) >= floor
                ]
                for a, b, _lex in cands:
                    spans[(ev.doc_id, a, b)] = doc[a:b]
                plan.options.append(_Option(n, ev.doc_id, alone, cands, dated))
            plans.append(plan)
        vectors = self._span_vectors(spans)
        wanted = [i for i, p in enumerate(plans) if any(o.cands for o in p.options)]
        embedded = self._embed([checks[i][0].text for i in wanted])
        claim_vecs = dict(zip(wanted, embedded, strict=False))

        out: list[list[tuple[int, Support]]] = []
        for i, plan in enumerate(plans):
            q = claim_vecs.get(i)
            found = []
            for o in plan.options:
                best = self._best(o, vectors, q, checks[i][0].text, spans) if o.alone else None
                if best is not None and best.score >= self.settings.llm.verify_threshold:
                    found.append((o.n, best))
            if len(plan.options) > 1 and len(found) < len(plan.options):
                combined = self._combined(plan, vocab, spans, vectors, q)
                if combined and len(combined) > len(found):
                    found = combined
            out.append(found)
        return out

    def _best(
        self,
        option: _Option,
        vectors: dict[tuple[str, int, int], np.ndarray],
        q: np.ndarray | None,
        claim: str = "",
        texts: dict[tuple[str, int, int], str] | None = None,
    ) -> Support | None:
        """The span of one passage that best supports the claim on its own. A span that
        negates what the claim states (or states what the claim negates) never supports it:
        the words agree, the meaning does not."""
        best: Support | None = None
        negated = _negations(claim) > 0
        for a, b, lex in option.cands:
            if lex < MIN_LEXICAL:
                continue
            span = vectors.get((option.doc_id, a, b))
            text = (texts or {}).get((option.doc_id, a, b), "")
            if claim and text and negated != (_negations(_closest_sentence(claim, text)) > 0):
                continue
            if negated and lex < MIN_NEGATED_LEXICAL:
                continue
            sem = _similarity(span, q, lex)
            if sem < (MIN_SEMANTIC_FULL if lex >= FULL_LEXICAL else MIN_SEMANTIC):
                continue
            score = (lex + sem) / 2
            # a longer span must earn its extra sentences to replace a shorter one
            longer = best is not None and b - a > best.end - best.start
            if best is None or score > best.score + (0.03 if longer else 0.0):
                best = Support(score, a, b)
        return best

    def _combined(
        self,
        plan: _Plan,
        vocab: dict[str, tuple[set[str], set[str], set[str]]],
        spans: dict[tuple[str, int, int], str],
        vectors: dict[tuple[str, int, int], np.ndarray],
        q: np.ndarray | None,
    ) -> list[tuple[int, Support]]:
        """Support for a sentence that joins what several cited passages say ("pledged
        long-term support in 2023, as in 2022 [1][2]"): together the passages must cover it,
        and each must add something the others do not."""
        parts = []
        for o in plan.options:
            if o.cands:  # the span of this passage closest to the claim

                def closeness(c: tuple[int, int, float], o: _Option = o) -> float:
                    return c[2] + _similarity(vectors.get((o.doc_id, c[0], c[1])), q, c[2])

                a, b, _lex = max(o.cands, key=closeness)
                parts.append((o, a, b, set(terms(spans[(o.doc_id, a, b)] + o.dated))))
        if len(parts) < 2 or not _states_only(plan, [vocab[p[0].doc_id] for p in parts]):
            return []
        total = sum(plan.weights.values()) or 1.0

        def covered(ps: list[tuple[_Option, int, int, set[str]]]) -> float:
            have = set().union(*(p[3] for p in ps))
            return sum(w for t, w in plan.weights.items() if t in have) / total

        whole = covered(parts)
        if any(covered([p for p in parts if p is not part]) >= whole for part in parts):
            return []  # a citation that adds nothing is not support
        sem = max(_similarity(vectors.get((p[0].doc_id, p[1], p[2])), q, whole) for p in parts)
        score = (whole + sem) / 2
        if whole < MIN_COMBINED_LEXICAL or sem < MIN_SEMANTIC:
            return []
        if score < self.settings.llm.verify_threshold:
            return []
        return [(o.n, Support(score, a, b)) for o, a, b, _t in parts]

    def _weights(self, claim_terms: list[str]) -> dict[str, float]:
        ts = set(claim_terms)
        known = {t: self.idf(t) for t in ts}
        seen = [v for v in known.values() if v is not None]
        typical = sum(seen) / len(seen) if seen else 1.0
        return {t: (v if v is not None else typical) for t, v in known.items()}

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.embed is None or not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self.embed(texts), dtype=np.float32)

    def _span_vectors(
        self, spans: dict[tuple[str, int, int], str]
    ) -> dict[tuple[str, int, int], np.ndarray]:
        return {} if self.embed is None else self._vectors.get(spans)


def _candidates(claim: str, ev: Evidence) -> list[tuple[int, int]]:
    """Spans of the passage that may support the claim: each sentence, each pair of
    neighbours, and the sentences around where fuzzy alignment places the claim."""
    sents = ev.sentences
    cands = list(sents) + [(sents[i][0], sents[i + 1][1]) for i in range(len(sents) - 1)]
    if claim and ev.text:
        al = fuzz.partial_ratio_alignment(claim.lower(), ev.text.lower())
        if al is not None:
            a, b = ev.start + al.dest_start, ev.start + al.dest_end
            around = [s for s in sents if s[0] < b and s[1] > a]
            if 0 < len(around) <= MAX_SPAN_SENTENCES:
                cands.append((around[0][0], around[-1][1]))
    return list(dict.fromkeys(cands))


def _states_only(plan: _Plan, docs: list[tuple[set[str], set[str], set[str]]]) -> bool:
    """Every name and figure of the claim, and all but a sliver of its other terms, appear
    in what the model was shown of ``docs``."""
    words_ = set().union(*(d[0] for d in docs))
    stems = set().union(*(d[1] for d in docs))
    numbers = set().union(*(d[2] for d in docs))
    names_ok = all(e in words_ or stem(e) in stems for e in plan.names)
    missing = {t for t in plan.weights if t not in stems and t not in words_}
    total = sum(plan.weights.values())
    unstated = sum(plan.weights[t] for t in missing)
    neighbours = any(a in missing and b in missing for a, b in pairwise(plan.order))
    return (
        names_ok and plan.numbers <= numbers and unstated <= MAX_UNSTATED * total and not neighbours
    )


def _similarity(vec: np.ndarray | None, q: np.ndarray | None, fallback: float) -> float:
    return float(vec @ q) if vec is not None and q is not None else fallback


def _coverage(weights: dict[str, float], text: str) -> float:
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    have = set(terms(text))
    return sum(w for t, w in weights.items() if t in have) / total


def _document_vocabulary(
    evidence: Iterable[Evidence],
) -> dict[str, tuple[set[str], set[str], set[str]]]:
    """Per document: the words, stems and numbers of everything the model was shown of it
    (passages, title, date): what a sentence's names and figures may come from."""
    texts: dict[str, list[str]] = {}
    for ev in evidence:
        c = ev.hit.chunk
        texts.setdefault(ev.doc_id, [c.title, c.published or ""]).append(ev.text)
    out = {}
    for doc_id, parts in texts.items():
        joined = "\n".join(parts)
        ws = set(words(joined))
        out[doc_id] = (ws, {stem(w) for w in ws}, _numbers(joined.replace("-", " ")))
    return out


def _strongest(seps: list[str]) -> str:
    for s in ("\n\n", "\n", " "):
        if s in seps:
            return s
    return ""


def _citation(n: int, ev: Evidence, doc: str, sup: Support) -> Citation:
    c = ev.hit.chunk
    return Citation(
        n=n,
        source=c.source,
        title=c.title,
        url=c.url,
        published=c.published,
        quote=doc[sup.start : sup.end],
        start=sup.start,
        end=sup.end,
        doc_id=ev.doc_id,
    )


def _compose(kept: list[_Kept]) -> str:
    out: list[str] = []
    for i, k in enumerate(kept):
        if i:
            out.append(k.claim.sep or " ")
        if k.lead:
            out.append(k.claim.text)
            continue
        marks = "".join(f"[{n}]" for n in k.numbers) if k.numbers else UNVERIFIED
        out.append(f"{k.claim.text} {marks}")
    return "".join(out)


def _notices(counts: dict[str, int]) -> list[str]:
    out = []
    if counts["dropped"]:
        out.append(
            f"{counts['dropped']} sentence(s) of the model's answer left out: "
            "the passages they cite do not support them"
        )
    if counts["marked"]:
        out.append(
            f"{counts['marked']} sentence(s) marked {UNVERIFIED}: "
            "the passages they cite do not support them"
        )
    if counts.get("recited"):
        out.append(
            f"{counts['recited']} sentence(s) re-cited to the passage that supports them: "
            "their own markers named the wrong passage or none"
        )
    if counts["markers_removed"]:
        out.append(
            f"{counts['markers_removed']} citation marker(s) removed: they named passages "
            "the model was not given or that do not support the sentence"
        )
    return out
