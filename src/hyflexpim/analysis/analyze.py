"""``analyze_attention(model, batches, twin=...)``: stream a data set through a model (and its PIM twin),
capture every layer's attention and reduce it to per-layer, per-head statistics.

    report = analyze_attention(model, batches, tokenizer=tok)          # clean
    report = analyze_attention(model, batches, twin=apply_plan(...))   # + the twin, row by row
    report.layer_table(); report.sparsity_profile()
    hyflexpim.report.attention_tables.write_attention(report, "out/")   # CSV/JSON, profile, figures
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from hyflexpim.analysis.metrics import BINS, STATS, LayerStats, compare_rows, update
from hyflexpim.errors import UserError
from hyflexpim.sim.attention_capture import capture_attention


@dataclass
class AttentionReport:
    layers: dict[int, LayerStats]
    twin_layers: dict[int, LayerStats] = field(default_factory=dict)
    comparison: dict[int, list] = field(default_factory=dict)  # layer -> [rows, top-1 agreements, Σ TV]
    example: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [H, n, n] of one example
    twin_example: dict[int, torch.Tensor] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    examples: int = 0
    label: str = ""

    # -- tables ------------------------------------------------------------------------------------
    def rows(self, twin: bool = False) -> list[dict]:
        """One row per layer and head: every statistic's mean over the rows seen, and the histogram."""
        out = []
        for layer, st in sorted((self.twin_layers if twin else self.layers).items()):
            means = {k: st.mean(k) for k in STATS}
            js = (st.js / max(st.rows, 1)).tolist()
            for h in range(st.heads):
                row = {"layer": layer, "head": h, "rows": st.rows, **{k: means[k][h] for k in STATS}}
                others = [js[h][j] for j in range(st.heads) if j != h]
                row["js_distance_mean"] = sum(others) / len(others) if others else 0.0
                row["histogram"] = st.hist[h].tolist()
                out.append(row)
        return out

    def layer_table(self, twin: bool = False) -> list[dict]:
        """Per layer: the statistics averaged over heads (and the comparison with the twin, if any)."""
        out = []
        for layer, st in sorted((self.twin_layers if twin else self.layers).items()):
            row = {"layer": layer, "heads": st.heads, "rows": st.rows}
            row.update({k: sum(st.mean(k)) / st.heads for k in STATS})
            if layer in self.comparison:
                n, agree, tv = self.comparison[layer]
                row.update(top1_agreement=agree / max(n, 1), total_variation=tv / max(n, 1))
            out.append(row)
        return out

    def histogram(self, layer: int | None = None, twin: bool = False) -> list[float]:
        """Counts of scores in 20 bins on [0, 1]: all layers and heads, or one layer's heads."""
        src = self.twin_layers if twin else self.layers
        hs = [st.hist.sum(0) for l, st in src.items() if layer is None or l == layer]
        return (sum(hs) if hs else torch.zeros(BINS)).tolist()

    def sparsity_profile(self) -> dict:
        """Per layer and head, the share of valid keys a query must keep for 90 % / 99 % of its mass."""
        prof = {"what": "mean over rows of k_p / valid keys: the keep fraction that preserves p of the attention "
                        "mass, per layer (keys) and head (list index)", "examples": self.examples,
                "keep_for_90": {}, "keep_for_99": {}}
        for layer, st in sorted(self.layers.items()):
            prof["keep_for_90"][str(layer)] = st.mean("k90_frac")
            prof["keep_for_99"][str(layer)] = st.mean("k99_frac")
        return prof


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "labels"}


def analyze_attention(model: nn.Module, batches, twin: nn.Module | None = None, tokenizer=None,
                      special_ids: list[int] | None = None, example: int = 0, with_js: bool = True,
                      progress: bool = False, label: str = "") -> AttentionReport:
    """Statistics of every layer's attention over ``batches`` (dicts as the model takes them; a batch's
    ``attention_mask`` marks its real tokens). With ``twin`` (the plan's PIM twin of the same model), the
    twin's statistics too, and per layer the top-1 agreement and total-variation distance of its rows
    against the clean ones. ``example``: index (in the first batch) of the example kept for heat maps."""
    if special_ids is None and tokenizer is not None:
        special_ids = list(getattr(tokenizer, "all_special_ids", []) or [])
    report = AttentionReport(layers={}, label=label)
    state: dict = {}

    def sink_for(stats: dict, keep: dict, compare: bool):
        def sink(layer, p, valid):
            if layer not in stats:
                stats[layer] = LayerStats(p.shape[1])
            update(stats[layer], p, valid, state.get("query_ok"), state.get("special"), with_js)
            if state["first"] and example < p.shape[0]:
                n = int(state["lengths"][example]) if state.get("lengths") is not None else p.shape[-1]
                keep[layer] = p[example, :, :n, :n].float().clone()
            if compare:
                ref = state["clean"].get(layer)
                if ref is not None and ref.shape == p.shape:
                    n, agree, tv = compare_rows(ref, p, valid, state.get("query_ok"))
                    c = report.comparison.setdefault(layer, [0, 0, 0.0])
                    c[0] += n
                    c[1] += agree
                    c[2] += tv
            elif twin is not None:
                state["clean"][layer] = p
        return sink

    seen = 0
    model.eval()
    if twin is not None:
        twin.eval()
    for i, batch in enumerate(tqdm(batches, desc="attention", disable=not progress, leave=False)):
        mask = batch.get("attention_mask", batch.get("mask"))  # tokens, or a jet's real particles
        ids = batch.get("input_ids")
        state.update(first=(i == 0), query_ok=mask, clean={},
                     lengths=mask.sum(-1) if mask is not None else None,
                     special=(torch.isin(ids, torch.tensor(special_ids)) if special_ids and ids is not None else None))
        if i == 0 and tokenizer is not None and ids is not None and example < ids.shape[0]:
            n = int(mask[example].sum()) if mask is not None else ids.shape[1]
            report.tokens = tokenizer.convert_ids_to_tokens(ids[example, :n].tolist())
        with torch.inference_mode():
            with capture_attention(model, sink_for(report.layers, report.example, False)):
                model(**_inputs(batch))
            if twin is not None:
                with capture_attention(twin, sink_for(report.twin_layers, report.twin_example, True)):
                    twin(**_inputs(batch))
        seen += next(iter(_inputs(batch).values())).shape[0]
    if not report.layers:
        raise UserError("attention analysis: the data set gave no batches (or no attention was computed)")
    report.examples = seen
    return report
