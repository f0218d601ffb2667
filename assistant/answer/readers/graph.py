"""The reader's onnxruntime graph: the minilm-q8 encoder (same fused int8 recipe, built by
index/embedders/minilm_graph.py from MiniLM's weight names) under the reader's two heads.

Outputs, for int32 ``input_ids`` and ``attention_mask`` (B, S): ``logit`` (B,), whether the
unit answers (before the sigmoid), and ``start`` / ``end`` (B, S), the span head's scores.
Built at the end of training (assistant/training/train.py); needs the ``model-build`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.index.embedders import minilm_graph as mg

if TYPE_CHECKING:
    import onnx

RECIPE = "minilm-reader/1: " + mg.RECIPE.split(": ", 1)[1] + "; float heads"


def reader_head(g: Any, x: str, w: dict[str, np.ndarray]) -> list[Any]:
    from onnx import TensorProto, helper

    pooled = mg.masked_mean(g, x)  # (B, D): mean pooling learns faster than [CLS] here
    logit = g.op(
        "Add",
        [
            g.op(
                "MatMul",
                [pooled, g.const("cls_w", w["reader.classifier.weight"].T.astype(np.float32))],
            ),
            g.const("cls_b", w["reader.classifier.bias"].astype(np.float32)),
        ],
    )
    g.nodes.append(
        helper.make_node(
            "Reshape", [logit, g.const("shape_flat", np.array([-1], np.int64))], ["logit"]
        )
    )
    span = g.op(
        "Add",
        [
            g.op("MatMul", [x, g.const("span_w", w["reader.span.weight"].T.astype(np.float32))]),
            g.const("span_b", w["reader.span.bias"].astype(np.float32)),
        ],
    )
    start, end = g.op("Split", [span], outputs=2, axis=-1, num_outputs=2)
    for name, t in (("start", start), ("end", end)):
        axis = g.const("axis_last", np.array([-1], np.int64))
        g.nodes.append(helper.make_node("Squeeze", [t, axis], [name]))
    return [
        helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["batch"]),
        helper.make_tensor_value_info("start", TensorProto.FLOAT, ["batch", "seq"]),
        helper.make_tensor_value_info("end", TensorProto.FLOAT, ["batch", "seq"]),
    ]


def build(
    weights: dict[str, np.ndarray],
    heads: int,
    calibration: list[list[int]],
    quantize: bool = True,
) -> onnx.ModelProto:
    """The reader graph from the trained weights (MiniLM's names plus ``reader.*``);
    ``calibration``: word-piece rows of typical pairs, for the activation ranges."""
    amax = mg.calibrate(weights, heads, calibration, head=reader_head) if quantize else None
    return mg.build_graph(weights, heads, amax, quantize, head=reader_head, name="minilm-reader")


def save(model: onnx.ModelProto, out: Path, props: dict[str, str]) -> str:
    """Write atomically with ``props`` as metadata; the file's sha256."""
    from onnx import helper

    helper.set_model_props(model, {"recipe": RECIPE, **props})
    mg.save_atomic(model, out)
    os.chmod(out, 0o644)  # package data: mkstemp made it private
    return mg.sha256_file(out)
