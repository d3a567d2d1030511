"""Attention of the Particle Transformer on jets, after "Interpreting Transformers for Jet Tagging" (Wang et al.).

``analyze_part(model, data, index, batches)`` streams jets through ParT and returns:

- ``full``: the standard per-layer, per-head statistics (``AttentionReport``: top-1 mass, share of rows with
  max ≥ 0.9, k₉₀, entropy, the 20-bin histogram) of the attention ParT uses, softmax(QKᵀ/√d + U), over the real
  particles only (padding keys and queries dropped);
- ``attention_only``: the same for the paper's attention-only map, softmax(log(P + ε) − U) over the real
  particles — the pair-interaction bias U taken back out — and, per layer and head, the Pearson correlation of
  the two maps' entries;
- ``subjets``: per class and layer, the share of each particle's attention mass on particles of its own
  exclusive-kT subjet (rows of particles with a known subjet), against what uniform attention over the same
  particles would give;
- ``examples``: for the first test jet of each class, its particles and every layer's attention (mean over heads
  and per head) for the η–φ graph (``hyflexpim.report.jets_plots``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from hyflexpim.analysis.analyze import AttentionReport
from hyflexpim.analysis.metrics import LayerStats, update

EPS = 1e-9


@dataclass
class JetAttention:
    full: AttentionReport
    attention_only: AttentionReport
    correlation: dict[int, list[float]]  # layer -> per-head Pearson r of full vs attention-only entries
    subjets: list[dict]  # class, layer, rows, within, uniform
    examples: list[dict] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def binary_table(self) -> list[dict]:
        """Per layer: share of rows with max ≥ 0.9 and mean k₉₀, for both maps."""
        out = []
        for (full, only) in zip(self.full.layer_table(), self.attention_only.layer_table()):
            out.append({"layer": full["layer"], "rows": full["rows"], "binary": full["binary"], "top1": full["top1"],
                        "k90": full["k90"], "binary_attention_only": only["binary"], "k90_attention_only": only["k90"],
                        "correlation": float(np.mean(self.correlation[full["layer"]]))})
        return out


class _Pearson:
    def __init__(self, heads: int):
        self.s = torch.zeros(6, heads, dtype=torch.float64)  # n, Σx, Σy, Σxx, Σyy, Σxy

    def add(self, x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> None:
        # x, y [B, H, P, P]; valid [B, 1, P, P]
        v = valid.expand_as(x).double()
        x, y = x.double() * v, y.double() * v
        dims = (0, 2, 3)
        self.s += torch.stack([v.sum(dims), x.sum(dims), y.sum(dims), (x * x).sum(dims), (y * y).sum(dims),
                               (x * y).sum(dims)])

    def value(self) -> list[float]:
        n, sx, sy, sxx, syy, sxy = self.s
        cov = sxy / n - sx / n * sy / n
        var = (sxx / n - (sx / n) ** 2).clamp_min(0) * (syy / n - (sy / n) ** 2).clamp_min(0)
        return (cov / var.sqrt().clamp_min(1e-30)).tolist()


def attention_only(p: torch.Tensor, bias: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """softmax(log(p + ε) − U) over the valid keys: the attention with the pair-interaction bias removed."""
    logits = torch.log(p + EPS) - bias
    logits = logits.masked_fill(~valid, float("-inf"))
    out = torch.softmax(logits, -1)
    return torch.nan_to_num(out, nan=0.0)


def analyze_part(model, data, index, batches, progress: bool = False) -> JetAttention:
    """``data``: a ``JetData``; ``index``: the jets analysed, in order; ``batches``: those jets as the model takes
    them, in the same order (``hyflexpim.data.jet_batches(data, index)``)."""
    from tqdm.auto import tqdm

    from hyflexpim.models.part import capture_attention

    blocks = [n for n, _ in model.attention_blocks() if n.startswith("blocks.")]
    full = AttentionReport(layers={}, label="ParT attention")
    only = AttentionReport(layers={}, label="ParT attention-only (pair bias removed)")
    pearson: dict[int, _Pearson] = {}
    sub = {}  # (class, layer) -> [rows, Σ within, Σ uniform]
    first_of_class = {}
    for pos, i in enumerate(index):
        first_of_class.setdefault(int(data.labels[i]), pos)
    kept = {pos: {} for pos in first_of_class.values()}
    model.eval()
    offset = 0
    for batch in tqdm(batches, desc="ParT attention", disable=not progress, leave=False):
        labels = batch.pop("labels")
        mask = batch["mask"]
        n = mask.shape[1]
        with torch.inference_mode(), capture_attention(model) as caps:
            model(**batch)
        valid = (mask[:, None, :, None] & mask[:, None, None, :])  # [B, 1, P, P]
        sj = torch.from_numpy(data.subjet[index[offset:offset + len(labels)], :n].astype(np.int64))
        same = (sj[:, :, None] == sj[:, None, :]) & (sj[:, :, None] >= 0)
        known = (sj >= 0) & mask
        for layer, (_, store) in enumerate(zip(blocks, caps)):
            p, bias = store[0]
            full.layers.setdefault(layer, LayerStats(p.shape[1]))
            only.layers.setdefault(layer, LayerStats(p.shape[1]))
            update(full.layers[layer], p, valid, mask)
            a = attention_only(p, bias if bias is not None else torch.zeros_like(p), valid)
            update(only.layers[layer], a, valid, mask)
            pearson.setdefault(layer, _Pearson(p.shape[1])).add(p, a, valid)
            within = (p.mean(1) * same).sum(-1)  # [B, P]: mean over heads of the mass on the own subjet
            uniform = (same & mask[:, None, :]).sum(-1) / mask.sum(-1, keepdim=True).clamp_min(1)
            for c in labels.unique().tolist():
                rows = known & (labels[:, None] == c)
                acc = sub.setdefault((c, layer), [0, 0.0, 0.0])
                acc[0] += int(rows.sum())
                acc[1] += float(within[rows].sum())
                acc[2] += float(uniform[rows].sum())
            for pos in kept:
                if offset <= pos < offset + len(labels):
                    b = pos - offset
                    k = int(mask[b].sum())
                    kept[pos][layer] = p[b, :, :k, :k].float().clone()
        offset += len(labels)
    examples = []
    for c, pos in sorted(first_of_class.items()):
        i = index[pos]
        k = int(data.mask[i].sum())
        examples.append({"class": data.class_names[c], "jet_index": int(i), "deta": data.features[i, :k, 15].tolist(),
                         "dphi": data.features[i, :k, 16].tolist(), "pt_log": data.features[i, :k, 0].tolist(),
                         "type": _types(data.features[i, :k]), "subjet": data.subjet[i, :k].tolist(),
                         "attention": dict(kept[pos])})
    full.examples = only.examples = offset
    subjets = [{"class": data.class_names[c], "layer": layer, "rows": r, "within": w / max(r, 1),
                "uniform": u / max(r, 1)} for (c, layer), (r, w, u) in sorted(sub.items())]
    return JetAttention(full, only, {layer: pc.value() for layer, pc in pearson.items()}, subjets, examples,
                        list(data.class_names))


def _types(features: np.ndarray) -> list[int]:
    """The particle type of each particle from the five one-hot flags (inputs 6-10), -1 where none is set."""
    flags = features[..., 6:11]
    return np.where(flags.max(-1) > 0.5, flags.argmax(-1), -1).tolist()
