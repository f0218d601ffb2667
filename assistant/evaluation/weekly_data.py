"""realtimeqa-weekly as questions with their articles: what the reader is trained on
(assistant/training/data.py) and what the weekly-pool evaluation asks (weekly.py).

``<year>/<YYYYMMDD>_qa.jsonl`` holds a week's quiz questions, ``<YYYYMMDD>_gcs.jsonl.gz`` the
articles a web search returned for each. Article texts are cleaned as ingestion cleans them.
A question is answerable from its articles when the gold choice's text (at least 3
characters) occurs in one of them as a whole word (the dataset README's test).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.index.cleaning import clean_text

_QUOTES = "\"'“”‘’«»` "


@dataclass
class Article:
    title: str
    text: str
    url: str
    published: str | None


@dataclass
class WeeklyQuestion:
    qid: str
    week: str  # the quiz file's date, YYYYMMDD
    date: str  # the question's date, ISO
    question: str
    gold: str
    evidence: str
    articles: list[Article] = field(default_factory=list)

    @property
    def month(self) -> str:
        return f"{self.week[:4]}-{self.week[4:6]}"


def norm(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").lower()


def gold_pattern(gold: str) -> re.Pattern[str] | None:
    """The gold text as a whole word (at least 3 characters), case-insensitive."""
    g = norm(gold.strip().strip(_QUOTES))
    if len(g) < 3:
        return None
    return re.compile(r"(?<!\w)" + re.escape(g) + r"(?!\w)")


def holds(pattern: re.Pattern[str] | None, text: str) -> bool:
    return pattern is not None and pattern.search(norm(text)) is not None


def load_weekly(root: Path) -> list[WeeklyQuestion]:
    """Every question of ``realtimeqa-weekly`` with its articles, cleaned as ingestion does."""
    out: list[WeeklyQuestion] = []
    for qa in sorted(root.glob("*/*_qa.jsonl")):
        week = qa.name.split("_")[0]
        searches: dict[str, list[dict[str, object]]] = {}
        gcs = qa.with_name(f"{week}_gcs.jsonl.gz")
        if gcs.exists():
            with gzip.open(gcs, "rt", encoding="utf-8") as f:
                for line in f:
                    rec = json.loads(line)
                    searches[rec["question_id"]] = rec.get("search_result") or []
        for line in qa.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            try:
                gold = rec["choices"][int(rec["answer"][0])]
            except (KeyError, IndexError, ValueError, TypeError):
                continue
            q = WeeklyQuestion(
                qid=rec["question_id"],
                week=week,
                date=rec["question_date"].replace("/", "-"),
                question=rec["question_sentence"].strip(),
                gold=str(gold),
                evidence=re.sub(r"<[^>]+>", "", rec.get("evidence") or ""),
            )
            seen: set[str] = set()
            for r in searches.get(q.qid, []):
                url, text = str(r.get("url") or ""), clean_text(str(r.get("text") or ""))
                if not text or url in seen:
                    continue
                seen.add(url)
                date = r.get("publish_date")
                q.articles.append(
                    Article(
                        str(r.get("title") or "").strip(), text, url, str(date) if date else None
                    )
                )
            out.append(q)
    return out


def answerable(q: WeeklyQuestion) -> bool:
    """The README's test: the gold choice's text, whole, in one of the question's articles."""
    p = gold_pattern(q.gold)
    return any(holds(p, a.text) for a in q.articles)


# --- the time split ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeSplit:
    """Months (YYYY-MM, inclusive) of realtimeqa-weekly to train on, to choose on (checkpoint
    and threshold), and to report on: the three never overlap."""

    name: str
    train: tuple[str, str]
    choose: tuple[str, str]
    report: tuple[tuple[str, str], ...]

    def part(self, month: str) -> str | None:
        def inside(r: tuple[str, str]) -> bool:
            return r[0] <= month <= r[1]

        if inside(self.train):
            return "train"
        if inside(self.choose):
            return "choose"
        if any(inside(r) for r in self.report):
            return "report"
        return None


SPLITS = {
    # Fit and choose on weeks up to 2024-06, report 2024-07..2024-12: the shipped model.
    "forward": TimeSplit(
        "forward", ("2023-01", "2024-03"), ("2024-04", "2024-06"), (("2024-07", "2024-12"),)
    ),
    # The reverse: fit and choose on 2024-07..2024-12, report 2023-01..2024-06.
    "reverse": TimeSplit(
        "reverse", ("2024-07", "2024-10"), ("2024-11", "2024-12"), (("2023-01", "2024-06"),)
    ),
}
