"""Cost of the self-attention alone on an attention-only dynamic-sparse accelerator (spec kind
``attention``, e.g. ``hardsea``), and of the same work on a baseline (a roofline, or a GPU's attention kernels with
the DRAM traffic of Q, K, V,
the context and, unfused, the scores: ``ATTENTION_ON``), vectorised over sequence lengths.

Per layer and head, with E entries (L² for an encoder, L(L+1)/2 for a prefill, plus one row per generated
token) and the kept share k:

* prediction  every entry, priced by its kind (``costs_prediction.PREDICTORS``): PQ builds a lookup table
              per query of M·K centroid dot products on the analog array (``pj_per_conversion`` each; codes of each
              new key the same way),
              then M adds per entry (``pj_per_add``) and one winner-take-all decision (``pj_per_decision``),
              ``predict_lanes`` entries per cycle;
* exact part  k·E entries: Q·Kᵀ and score×V, head_dim MACs each, on ``lanes`` INT8 MAC units at
              ``mac_cycles`` per MAC; the kept K and V rows read into the CIM (``kv_pj_per_bit``, 8-bit);
              softmax on k·E scores at ``sfu_per_cycle``;
* time        max(prediction, exact + softmax) when ``overlap`` (the analog predictor pipelined ahead of the
              digital CIM), else their sum; layers one after another; static power over that time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hyflexpim.chip.spec import AttentionSpec, GpuSpec, RooflineSpec, Spec
from hyflexpim.config import Registry
from hyflexpim.hw.costs_prediction import predictor
from hyflexpim.hw.results import AttentionInfo, HwResult
from hyflexpim.plan import Architecture


def entries(shape: Architecture, seq_lens: Any, gen_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """(entries per layer and head, tokens) per sequence: prefill (or the encoder's L²) plus generation."""
    L = np.asarray(seq_lens, dtype=float)
    e = L * L if not shape.decoder else L * (L + 1) / 2
    G = gen_tokens if shape.decoder else 0
    if G:
        e = e + (L[:, None] + np.arange(1, G + 1)[None, :]).sum(1)
    return e, L + G


def attention_costs(spec: AttentionSpec, shape: Architecture, seq_lens: Any, batch: int, gen_tokens: int,
                    attention_keep: float = 1.0) -> HwResult:
    E, n_tok = entries(shape, seq_lens, gen_tokens)
    hd, heads, layers = shape.q_dim / shape.heads, shape.heads, shape.layers
    keep = spec.keep * attention_keep
    pr = spec.prediction
    pairs = E * heads * layers  # entries of every head and layer
    kept = keep * pairs
    clock = spec.clock_ghz * 1e9
    t_exact = kept * 2 * hd * spec.mac_cycles / spec.lanes / clock + kept / spec.sfu_per_cycle / clock
    how = predictor(pr)
    predicts = how.selects
    t_pred = pairs / spec.predict_lanes / clock if predicts else 0.0 * E
    t = (np.maximum(t_exact, t_pred) if spec.overlap else t_exact + t_pred) * batch
    conv = how.table_dots(pr) * n_tok * heads * layers  # the table build's dot products (PQ), none otherwise
    e = {
        "exact_macs": kept * 2 * hd * spec.pj_per_mac * 1e-12,
        "kv_gather": kept * 2 * hd * 8 * spec.kv_pj_per_bit * 1e-12,
        "softmax": kept * spec.pj_per_softmax * 1e-12,
        "prediction": (conv * spec.pj_per_conversion + pairs * predicts * (
            how.adds_per_entry(pr) * spec.pj_per_add + spec.pj_per_decision)) * 1e-12,
        "static": spec.static_w * t / batch,
    }
    E_inf = sum(e.values())
    ops = 2.0 * pairs * 2 * hd  # dense-equivalent Q·Kᵀ and score×V work
    return HwResult.of(
        throughput_tok_s=batch * n_tok / t, tops=batch * ops / t / 1e12, latency_s=t, energy_per_inference_j=E_inf,
        energy_per_token_j=E_inf / n_tok, tops_per_w=ops / E_inf / 1e12,
        tops_per_mm2=batch * ops / t / 1e12 / spec.area_mm2, area_mm2=np.full_like(E, spec.area_mm2),
        power_w=batch * E_inf / t, ops_per_inference=ops, energy_by_component_j=e,
        energy_by_role_j={"attention": E_inf - e["prediction"], "prediction": e["prediction"]},
        bottleneck_stage=["prediction" if p > x else "exact"
                          for p, x in zip(np.broadcast_to(t_pred, E.shape), t_exact)],
        info=AttentionInfo(batch=batch, gen_tokens=gen_tokens if shape.decoder else 0, attention_density=keep,
                           prediction=pr.kind, scope="self-attention only"))


def _roofline_only(spec: RooflineSpec, shape: Architecture, seq_lens: Any, batch: int, gen_tokens: int,
                   keep: float) -> HwResult:
    from hyflexpim.hw.roofline import roofline_costs

    return roofline_costs(spec, shape, [], seq_lens, batch, gen_tokens, attention_keep=keep)


def _gpu_only(spec: GpuSpec, shape: Architecture, seq_lens: Any, batch: int, gen_tokens: int, keep: float) -> HwResult:
    """The GPU's attention kernels alone: Q, K, V read, the context written and (unfused) the scores written
    and read back, each launch with its per-kernel cost (``hyflexpim.hw.gpu``)."""
    from hyflexpim.hw.gpu import gpu_costs

    return gpu_costs(spec, shape, [], seq_lens, batch, gen_tokens, attention_keep=keep, scope="attention")


# spec kind -> the self-attention alone on that kind of baseline
ATTENTION_ON: Registry[Callable[..., HwResult]] = Registry("attention-only cost of a baseline (spec kind)")
ATTENTION_ON.register("roofline", _roofline_only)
ATTENTION_ON.register("gpu", _gpu_only)


def roofline_attention(spec: Spec, shape: Architecture, seq_lens: Any, batch: int, gen_tokens: int,
                       keep: float = 1.0) -> HwResult:
    """The same self-attention work (no linear layers) on a baseline: a roofline spec or a GPU's kernels."""
    return ATTENTION_ON.get(spec.kind, "spec kind")(spec, shape, seq_lens, batch, gen_tokens, keep)
