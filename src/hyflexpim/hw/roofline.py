"""Roofline baselines (SPRINT-like, TransPIM-like, GPUs): time = max(compute, memory traffic).

Work per token is the same dense INT8 model as for the PIM chip. Weights are read from memory
once per batch step (B sequences of L tokens in an encoder/prefill step, B tokens in a
generation step) unless ``weights_on_chip``; a generation step also reads the KV cache.
``token_keep`` < 1 prunes keys from the exact attention (SPRINT), costing ``prune_pj_per_score``
per (query, key) pair for the approximate in-ReRAM score. Energy: ``tdp`` = power x time,
``actions`` = MACs x pj_per_mac + bytes x pj_per_byte + static power x time.
"""

from __future__ import annotations

import numpy as np

from hyflexpim.chip.spec import RooflineSpec
from hyflexpim.plan import Architecture


def roofline_costs(spec: RooflineSpec, shape: Architecture, dense_macs_per_token: float, seq_lens,
                   batch: int, gen_tokens: int) -> dict:
    L = np.asarray(seq_lens, dtype=float)
    B, G = batch, (gen_tokens if shape.decoder else 0)
    nl, dq, dkv = shape.layers, shape.q_dim, shape.kv_dim
    rate = spec.peak_tmacs * 1e12 * spec.utilisation  # MAC/s
    bw = spec.mem_gbps * 1e9
    w_bytes = 0.0 if spec.weights_on_chip else dense_macs_per_token  # INT8: one byte per weight
    keep = spec.token_keep

    ctx_pre = L * L if not shape.decoder else L * (L + 1) / 2
    macs_pre = B * (L * dense_macs_per_token + 2 * nl * dq * ctx_pre * keep)
    bytes_pre = w_bytes + B * L * 2 * nl * dkv  # weights once + K/V written
    t_pre = np.maximum(macs_pre / rate, bytes_pre / bw)
    macs, byts, t = macs_pre, bytes_pre, t_pre
    ctx_gen = np.zeros_like(L)
    if G:
        c = L[:, None] + np.arange(1, G + 1)[None, :]
        m = B * (dense_macs_per_token + 2 * nl * dq * c * keep)
        by = w_bytes + B * 2 * nl * dkv * c * keep
        t = t + np.maximum(m / rate, by / bw).sum(1)
        macs, byts = macs + m.sum(1), byts + by.sum(1)
        ctx_gen = c.sum(1)
    n_tok = L + G
    ctx_all = ctx_pre + ctx_gen
    scores = B * nl * shape.heads * ctx_all if keep < 1 else 0.0
    if spec.energy_model == "tdp":
        e = {"compute": spec.power_w * t, "memory": 0.0 * t, "pruning": 0.0 * t}
    else:
        e = {"compute": macs * spec.pj_per_mac * 1e-12 + spec.static_w * t,
             "memory": byts * spec.pj_per_byte * 1e-12,
             "pruning": scores * spec.prune_pj_per_score * 1e-12 + 0.0 * t}
    E = sum(e.values()) / B  # per inference
    ops = 2.0 * (n_tok * dense_macs_per_token + ctx_all * nl * 2 * dq)  # dense-equivalent, per inference
    tops = B * ops / t / 1e12
    return {
        "throughput_tok_s": B * n_tok / t,
        "tops": tops,
        "latency_s": t,  # the whole batch step finishes together
        "energy_per_inference_j": E,
        "energy_per_token_j": E / n_tok,
        "tops_per_w": ops / E / 1e12,
        "tops_per_mm2": tops / spec.area_mm2,
        "area_mm2": np.full_like(L, spec.area_mm2),
        "power_w": B * E / t,
        "ops_per_inference": ops,
        "energy_by_component_j": {k: v / B for k, v in e.items()},
        "energy_by_role_j": {},
        "info": {"batch": B, "gen_tokens": G, "compute_bound": bool(np.all(macs_pre / rate >= bytes_pre / bw))},
    }
