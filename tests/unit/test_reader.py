"""The reader's interface: what a pair looks like to the model, the answer phrase's offsets,
the registry, and the shipped graph's card. The trained model's answers are
tests/integration/test_reader_answers.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.reader import (
    CLS,
    MAX_TOKENS,
    QUESTION_TOKENS,
    SEP,
    Unit,
    best_span,
    encode,
    load_tokenizer,
    make_reader,
    reader_spec,
)
from assistant.answer.readers.minilm_reader import MODEL_FILE, OnnxReader
from assistant.errors import ConfigError
from assistant.settings import Settings

UNIT = "The lanes will cost 2.3 million euros, most of it paid by a regional grant."


def test_a_pair_is_question_then_unit_then_its_context() -> None:
    tok = load_tokenizer()
    enc = encode(
        tok,
        "How much will the lanes cost?",
        [Unit(UNIT, "Harbour Road cycle lanes", "The council voted 9 to 4.")],
    )
    ids = enc.ids[0][enc.mask[0] == 1].tolist()
    seps = [i for i, t in enumerate(ids) if t == SEP]
    assert ids[0] == CLS and len(seps) == 3
    text = tok.decode(ids, skip_special_tokens=False)
    assert text.startswith("[CLS] how much will the lanes cost? [SEP] the lanes will cost")
    assert text.endswith("[SEP] harbour road cycle lanes ; the council voted 9 to 4. [SEP]")
    a, b = enc.unit_pieces[0]
    assert (a, b) == (seps[0] + 1, seps[1])
    # each unit piece's offsets point at its characters in the unit's text
    first, last = enc.offsets[0][0], enc.offsets[0][-1]
    assert UNIT[first[0] : first[1]] == "The" and UNIT[last[0] : last[1]] == "."


def test_long_parts_are_cut_to_the_budget_and_the_batch_is_padded() -> None:
    tok = load_tokenizer()
    long_q = "Why " + "very " * 80 + "long?"
    units = [Unit("Short unit here."), Unit(" ".join(["word"] * 200), "A title", "x " * 100)]
    enc = encode(tok, long_q, units)
    assert enc.ids.shape == (2, MAX_TOKENS)  # padded to the longest row, which hit the cap
    assert enc.mask[0].sum() < MAX_TOKENS  # the short row is padding after its last [SEP]
    assert enc.unit_pieces[0][0] == QUESTION_TOKENS + 2
    assert enc.ids[1, MAX_TOKENS - 1] == SEP


def test_the_answer_phrase_is_the_best_start_end_pair_inside_the_unit() -> None:
    offsets = [(0, 3), (4, 9), (10, 14), (15, 18), (19, 26)]
    start = np.full(12, -5.0)
    end = np.full(12, -5.0)
    start[2] = 9.0  # [CLS] and a question piece: outside the unit, never chosen
    start[5], end[7] = 3.0, 2.0
    end[4] = 8.0  # ends before the best start: not a phrase
    span, score = best_span(start, end, (3, 8), offsets)  # type: ignore[misc]
    assert span == (offsets[2][0], offsets[4][1]) and score == pytest.approx(5.0)
    assert best_span(start, end, (3, 3), offsets) is None


def test_readers_are_chosen_by_name_and_unknown_names_list_the_known() -> None:
    assert reader_spec("overlap").name == "overlap"  # the tests' fake, registered like a plugin
    with pytest.raises(ConfigError, match="minilm-reader"):
        make_reader(Settings(reader="nope"))


def test_a_missing_graph_or_card_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        OnnxReader(tmp_path / "missing.onnx")
    graph = tmp_path / "r.onnx"
    graph.write_bytes(b"x")
    with pytest.raises(ConfigError, match="card"):
        OnnxReader(graph)
    graph.with_suffix(".json").write_text(json.dumps({"threshold": 0.4}))
    assert OnnxReader(graph).threshold == 0.4
    assert OnnxReader(graph, threshold=0.7).threshold == 0.7  # the setting overrides the card


def test_the_shipped_graph_has_a_true_card() -> None:
    card = json.loads(MODEL_FILE.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["sha256"] == hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()
    assert 0 < card["threshold"] < 1 and "choosing weeks" in card["threshold_source"]
    assert card["split"]["name"] == "forward" and card["split"]["report"] == [
        ["2024-07", "2024-12"]
    ]
    assert card["command"].startswith("python -m assistant.training.train")
    assert card["base_licence"] == "Apache-2.0" and "seed" in card
