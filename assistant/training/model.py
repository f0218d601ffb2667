"""The reader in torch: BERT layers under MiniLM's weight names, a yes/no head on the masked
mean of the last layer and a span head on every piece. Written out here (a few dozen lines)
rather than taken from transformers so that the layers are exactly the ones
assistant/answer/readers/graph.py builds for onnxruntime from the same weight names."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-12


class Layer(nn.Module):
    def __init__(self, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(dim, dim) for _ in range(3))
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=EPS)
        self.ff1 = nn.Linear(dim, ff)
        self.ff2 = nn.Linear(ff, dim)
        self.out_norm = nn.LayerNorm(dim, eps=EPS)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, s, h, d // h).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        p = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        a = a.transpose(1, 2).reshape(b, s, d)
        x = self.attn_norm(x + F.dropout(self.attn_out(a), p, self.training))
        y = self.ff2(F.gelu(self.ff1(x)))
        return self.out_norm(x + F.dropout(y, p, self.training))


class ReaderModel(nn.Module):
    def __init__(
        self,
        vocab: int = 30522,
        dim: int = 384,
        layers: int = 6,
        heads: int = 12,
        ff: int = 1536,
        positions: int = 512,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.word = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(positions, dim)
        self.token_type = nn.Embedding(2, dim)
        self.emb_norm = nn.LayerNorm(dim, eps=EPS)
        self.layers = nn.ModuleList(Layer(dim, heads, ff, dropout) for _ in range(layers))
        self.classifier = nn.Linear(dim, 1)
        self.span = nn.Linear(dim, 2)
        self.dropout = dropout

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logit (B,), start logits (B, S), end logits (B, S)); padding scores -inf."""
        s = ids.shape[1]
        pos = torch.arange(s, device=ids.device)
        # token type 0 everywhere: the ONNX graph folds that row into the positions
        x = self.word(ids) + self.position(pos)[None] + self.token_type.weight[0]
        x = F.dropout(self.emb_norm(x), self.dropout, self.training)
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(mask == 0, -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        keep = mask[..., None].to(x.dtype)
        # mean pooling: with [CLS] (and MiniLM's pooler) the yes/no head barely learned in
        # 150-step trials (held-out SQuAD answer-sentence accuracy 0.23 against 0.68)
        pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        logit = self.classifier(F.dropout(pooled, self.dropout, self.training)).squeeze(-1)
        span = self.span(x)
        neg = torch.finfo(span.dtype).min
        start = span[..., 0].masked_fill(mask == 0, neg)
        end = span[..., 1].masked_fill(mask == 0, neg)
        return logit, start, end


# our parameter name -> MiniLM's (BertModel) weight name
def _layer_names(i: int) -> dict[str, str]:
    p = f"encoder.layer.{i}."
    out = {}
    for ours, theirs in {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attn_out": "attention.output.dense",
        "attn_norm": "attention.output.LayerNorm",
        "ff1": "intermediate.dense",
        "ff2": "output.dense",
        "out_norm": "output.LayerNorm",
    }.items():
        for kind in ("weight", "bias"):
            out[f"layers.{i}.{ours}.{kind}"] = p + theirs + "." + kind
    return out


def weight_names(layers: int) -> dict[str, str]:
    names = {
        "word.weight": "embeddings.word_embeddings.weight",
        "position.weight": "embeddings.position_embeddings.weight",
        "token_type.weight": "embeddings.token_type_embeddings.weight",
        "emb_norm.weight": "embeddings.LayerNorm.weight",
        "emb_norm.bias": "embeddings.LayerNorm.bias",
    }
    for i in range(layers):
        names.update(_layer_names(i))
    return names


def from_minilm(weights: dict[str, torch.Tensor], layers: int, heads: int) -> ReaderModel:
    """A reader whose encoder starts from MiniLM's first ``layers`` layers; new heads."""
    model = ReaderModel(layers=layers, heads=heads)
    state = model.state_dict()
    for ours, theirs in weight_names(layers).items():
        state[ours] = weights[theirs].clone()
    torch.manual_seed(0)
    nn.init.normal_(state["classifier.weight"], std=0.02)
    nn.init.zeros_(state["classifier.bias"])
    nn.init.normal_(state["span.weight"], std=0.02)
    nn.init.zeros_(state["span.bias"])
    model.load_state_dict(state)
    return model


def to_minilm(model: ReaderModel) -> dict[str, torch.Tensor]:
    """The model's weights under MiniLM's names, plus ``reader.*`` for the heads: what the
    ONNX builder reads."""
    state = model.state_dict()
    layers = len(model.layers)
    out = {theirs: state[ours].detach().clone() for ours, theirs in weight_names(layers).items()}
    for k in ("classifier.weight", "classifier.bias", "span.weight", "span.bias"):
        out["reader." + k] = state[k].detach().clone()
    return out


def head_parameters(model: ReaderModel) -> list[nn.Parameter]:
    """The new heads' parameters: they start from scratch and take a larger learning rate."""
    return [*model.classifier.parameters(), *model.span.parameters()]


def span_loss(start: torch.Tensor, end: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the gold start and end pieces, over rows that have one (-1: none)."""
    keep = targets[:, 0] >= 0
    if not bool(keep.any()):
        return start[:, 0].sum() * 0.0  # the [CLS] column: never masked, so finite
    s, e, t = start[keep], end[keep], targets[keep]
    return (F.cross_entropy(s, t[:, 0]) + F.cross_entropy(e, t[:, 1])) / 2


def warmup_linear(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))
