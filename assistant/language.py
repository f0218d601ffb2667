"""Whether a text is English: the assistant reads English, and says so rather than pretending
to search when a question or a document is in another language.

Counted on function words, the short words every sentence of a language needs and no topic
changes ("the", "of", "what" against "der", "und", "was"): names, figures and borrowed terms,
which fill news in every language, do not move it. No model, no download.
"""

from __future__ import annotations

import re


def _words(line: str) -> frozenset[str]:
    return frozenset(line.split())


_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "English": _words(
        "the of and to in is was are were what who when where why how which did does do "
        "has have had a an on for with at by from that this it he she they his her their "
        "be been will would said about not or"
    ),
    "German": _words(
        "der die das und ist war sind wer wie wann wo warum welche hat haben ein eine "
        "einen dem den des mit von zu im auf für nicht auch sich es sie er wurde werden "
        "bei nach über aus dass"
    ),
    "French": _words(
        "le la les et est sont qui que quoi quand où pourquoi comment quel quelle un une "
        "des du de au aux dans pour avec sur par pas ne il elle ils ont été a cette ce "
        "son ses leur"
    ),
    "Spanish": _words(
        "el la los las y es son qué quién cuándo dónde por cómo cuál un una del al en "
        "con para sobre no se su sus ha han fue está están este esta que lo"
    ),
    "Italian": _words(
        "il lo la gli le e è sono chi che cosa quando dove perché come quale un una del "
        "della dei delle al nel con per su non si ha hanno stato questo questa"
    ),
    "Dutch": _words(
        "de het een en is zijn wie wat wanneer waar waarom hoe welke heeft hebben van "
        "voor met op aan niet ook dat deze die er werd worden bij naar over"
    ),
    "Portuguese": _words(
        "o a os as e é são quem que quando onde porque como qual um uma do da dos das no "
        "na em com para por não se foi está estão este esta"
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
MIN_FUNCTION_WORDS = 2  # fewer and there is nothing to go on ("NATO Finland?")


def foreign_language(text: str) -> str | None:
    """The language ``text`` is written in when it is clearly not English; None when it is
    English or when there is too little to tell."""
    words = [w.lower() for w in _WORD.findall(text[:5000])]
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in _FUNCTION_WORDS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    if best == "English" or counts[best] < MIN_FUNCTION_WORDS:
        return None
    # Shared short words ("a", "la", "in") give other languages a few hits in English text.
    return best if counts[best] >= 2 * max(counts["English"], 1) else None
