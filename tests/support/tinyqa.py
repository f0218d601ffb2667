"""A tiny generated benchmark in the layout of shared/datasets (corpus.jsonl, dev.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.app import Assistant
from tests.support.samples import make_settings

# (id, date, title, text): each story has its own vocabulary; two are the same topic a year
# apart, so only the question's date tells which one a "this week" question means.
ARTICLES = [
    (
        "a-bridge",
        "2022/06/14",
        "Harbor bridge reopens after repairs",
        "The Kestrel Harbor bridge reopened on Tuesday after eight months of repairs. "
        "Engineers replaced 140 steel cables and the city spent 42 million dollars on the work. "
        "Commuters cheered as the first ferry-free morning began.",
    ),
    (
        "a-festival",
        "2022/06/15",
        "Lantern festival draws record crowds",
        "The Marlowe lantern festival drew 310,000 visitors this weekend, a record. "
        "Organisers said the paper lanterns were made by 900 volunteers from local schools. "
        "The festival ends with a parade along the canal on Sunday.",
    ),
    (
        "a-vaccine-old",
        "2021/06/10",
        "Drought relief plan announced for Ostrava valley",
        "Farmers in the Ostrava valley will receive drought relief grants, the ministry said. "
        "The first plan sets aside 12 million for irrigation pumps and water tanks. "
        "Officials promised a review of the plan next year.",
    ),
    (
        "a-vaccine-new",
        "2022/06/13",
        "Ostrava valley drought plan expanded",
        "The ministry expanded its drought relief plan for the Ostrava valley this week. "
        "The new plan pays farmers 30 million for deeper wells and reservoir repairs. "
        "Farmers said the wells would save the summer harvest.",
    ),
    (
        "a-chess",
        "2022/06/12",
        "Teenager wins national chess title",
        "Sixteen-year-old Ines Varga won the national chess championship in Brno. "
        "She defeated the defending champion in a tense final game lasting six hours. "
        "Varga will represent the country at the olympiad in August.",
    ),
]

QUESTIONS = [
    ("q1", "2022/06/16", "How many steel cables were replaced on the Kestrel Harbor bridge?",
     "140", ["a-bridge"]),
    ("q2", "2022/06/16", "How many people visited the Marlowe lantern festival?",
     "310,000", ["a-festival"]),
    ("q3", "2022/06/16", "Who won the national chess championship in Brno?",
     "“Ines Varga”", ["a-chess"]),
    ("q4", "2022/06/16", "How much does the Ostrava valley drought plan announced this week pay?",
     "30 million", ["a-vaccine-new"]),
]  # fmt: skip


def write_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for doc_id, date, title, text in ARTICLES:
            rec = {
                "doc_id": doc_id,
                "url": f"https://news.example/{doc_id}",
                "title": title,
                "text": text,
                "authors": ["Staff"],
                "publish_date": date,
            }
            f.write(json.dumps(rec) + "\n")
    with (folder / "dev.jsonl").open("w", encoding="utf-8") as f:
        for qid, date, question, answer, gold in QUESTIONS:
            rec = {
                "qid": qid,
                "question": question,
                "question_date": date,
                "answer_text": answer,
                "gold_doc_ids": gold,
                "gold_urls": [f"https://news.example/{g}" for g in gold],
            }
            f.write(json.dumps(rec) + "\n")
    return folder


def dataset_over_weeks(folder: Path) -> Path:
    """The tiny benchmark with its questions spread over three weeks: 0610 and 0617 are the
    first two thirds (3 questions), 0624 the last (1)."""
    data = write_dataset(folder)
    rows = [json.loads(x) for x in (data / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    for row, week in zip(rows, ["20220610", "20220617", "20220617", "20220624"], strict=True):
        row["week"] = week
    (data / "dev.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return data


def weekly_assistant(tmp: Path) -> tuple[Assistant, Path]:
    """An assistant under ``tmp`` with ``dataset_over_weeks`` ingested, and that dataset."""
    data = dataset_over_weeks(tmp / "weeklyqa")
    a = Assistant(make_settings(tmp))
    a.ingest([data / "corpus.jsonl"])
    return a, data
