"""Roofline baselines (SPRINT-like, TransPIM-like, GPUs): time = max(compute, memory traffic).

Work per token is the same dense INT8 model as for the PIM chip; the matrices outside the layers
(heads) run on the last token only when ``head_tokens`` is "last" (as on the PIM chip). Weight reuse
is bounded by the design's own buffer (``buffer_kb``): a matrix [d_out, d_in] streamed from memory is
reused by R = floor(buffer / (d_in + d_out) bytes of INT8 activations per token) tokens of a batch
step, so a step of T tokens reads it ceil(T / R) times (``weights_on_chip``: never). A generation step
also reads the KV cache; K and V of new tokens are written (``pj_per_byte_write``). ``token_keep`` < 1
prunes keys from the exact attention (SPRINT), costing ``prune_pj_per_score`` per (query, key, head)
for the approximate in-ReRAM score. Energy: ``tdp`` = power x time, ``actions`` = MACs x pj_per_mac +
bytes x pj_per_byte + static power x time, split by role (each matrix role, attention, static).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hyflexpim.chip.spec import RooflineSpec
from hyflexpim.hw.results import HwResult, RooflineInfo
from hyflexpim.plan import Architecture


def _weight_reads(matrices: Sequence[tuple[str, int, int]], tokens: Any, buffer_bytes: float) -> dict[str, Any]:
    """Bytes of weights read for a step of ``tokens`` tokens (array), per role."""
    out: dict[str, Any] = {}
    for role, d_out, d_in in matrices:
        reuse = max(1.0, np.floor(buffer_bytes / (d_in + d_out)))
        out[role] = out.get(role, 0.0) + d_out * d_in * np.ceil(tokens / reuse)
    return out


def roofline_costs(spec: RooflineSpec, shape: Architecture, matrices: Sequence[tuple[str, int, int, bool]],
                   seq_lens: Any, batch: int, gen_tokens: int,
                   head_last: bool = True, attention_keep: float = 1.0) -> HwResult:
    """``matrices``: (role, d_out, d_in, in_layers) of every matrix of the plan."""
    L = np.asarray(seq_lens, dtype=float)
    B, G = batch, (gen_tokens if shape.decoder else 0)
    nl, dq, dkv = shape.layers, shape.q_dim, shape.kv_dim
    rate = spec.peak_tmacs * 1e12 * spec.utilisation  # MAC/s
    bw = spec.mem_gbps * 1e9
    buf = spec.buffer_kb * 1024
    keep = spec.token_keep * attention_keep
    layer_m = [(r, o, i) for r, o, i, inl in matrices if inl]
    head_m = [(r, o, i) for r, o, i, inl in matrices if not inl]
    macs_layer = sum(o * i for _, o, i in layer_m)
    macs_head = sum(o * i for _, o, i in head_m)

    def step(tokens: Any, head_tokens: Any, ctx: Any) -> tuple[Any, Any, dict[str, Any]]:
        """MACs, weight bytes by role, KV bytes read/written of one batch step."""
        reads = {} if spec.weights_on_chip else _weight_reads(layer_m, tokens, buf)
        if not spec.weights_on_chip:
            for k, v in _weight_reads(head_m, head_tokens, buf).items():
                reads[k] = reads.get(k, 0.0) + v
        macs_lin = tokens * macs_layer + head_tokens * macs_head
        macs_att = 2 * nl * dq * ctx * keep
        return macs_lin, macs_att, reads

    ctx_pre = L * L if not shape.decoder else L * (L + 1) / 2
    head_pre = B * (np.ones_like(L) if head_last else L)
    lin, att, reads = step(B * L, head_pre, B * ctx_pre)
    kv_w = B * L * 2 * nl * dkv  # K/V written
    t = np.maximum((lin + att) / rate, (sum(reads.values()) + kv_w) / bw)
    macs_lin, macs_att, w_bytes, kv_r, kv_wr = lin, att, dict(reads), 0.0 * L, kv_w
    ctx_gen = np.zeros_like(L)
    if G:
        c = L[:, None] + np.arange(1, G + 1)[None, :]
        lin_g, att_g, reads_g = step(float(B), float(B), B * c)
        kv_read = B * 2 * nl * dkv * c * keep
        kv_write = B * 2 * nl * dkv * np.ones_like(c)
        t = t + np.maximum((lin_g + att_g) / rate, (sum(reads_g.values()) + kv_read + kv_write) / bw).sum(1)
        macs_lin = macs_lin + G * lin_g
        macs_att = macs_att + att_g.sum(1)
        for k, v in reads_g.items():
            w_bytes[k] = w_bytes.get(k, 0.0) + G * v
        kv_r, kv_wr = kv_read.sum(1), kv_wr + kv_write.sum(1)
        ctx_gen = c.sum(1)
    n_tok = L + G
    n_head = np.full_like(L, 1.0 + G) if head_last else n_tok
    ctx_all = ctx_pre + ctx_gen
    scores = B * nl * shape.heads * ctx_all if keep < 1 else 0.0 * L
    mac_role: dict[str, Any] = {}
    for r, o, i in layer_m:
        mac_role[r] = mac_role.get(r, 0.0) + B * n_tok * o * i
    for r, o, i in head_m:
        mac_role[r] = mac_role.get(r, 0.0) + B * n_head * o * i
    if spec.energy_model == "tdp":
        e = {"compute": spec.power_w * t, "memory": 0.0 * t, "pruning": 0.0 * t}
        total_macs = macs_lin + macs_att
        roles = {r: spec.power_w * t * m / total_macs for r, m in mac_role.items()}
        roles["attention"] = spec.power_w * t * macs_att / total_macs
    else:
        mem_byte, mem_wr = spec.pj_per_byte * 1e-12, spec.pj_per_byte_write * 1e-12
        e = {"compute": (macs_lin + macs_att) * spec.pj_per_mac * 1e-12,
             "memory": (sum(w_bytes.values()) + kv_r) * mem_byte + kv_wr * mem_wr,
             "pruning": scores * spec.prune_pj_per_score * 1e-12 + 0.0 * t,
             "static": spec.static_w * t}
        roles = {r: mac_role[r] * spec.pj_per_mac * 1e-12 + w_bytes.get(r, 0.0) * mem_byte for r in mac_role}
        roles["attention"] = macs_att * spec.pj_per_mac * 1e-12 + kv_r * mem_byte + kv_wr * mem_wr + e["pruning"]
        roles["static"] = e["static"]
    E = sum(e.values()) / B  # per inference
    dense = n_tok * macs_layer + n_head * macs_head
    ops = 2.0 * (dense + ctx_all * nl * 2 * dq)  # dense-equivalent, per inference
    tops = B * ops / t / 1e12
    return HwResult.of(
        throughput_tok_s=B * n_tok / t,
        tops=tops,
        latency_s=t,  # the whole batch step finishes together
        energy_per_inference_j=E,
        energy_per_token_j=E / n_tok,
        tops_per_w=ops / E / 1e12,
        tops_per_mm2=tops / spec.area_mm2,
        area_mm2=np.full_like(L, spec.area_mm2),
        power_w=B * E / t,
        ops_per_inference=ops,
        energy_by_component_j={k: v / B for k, v in e.items()},
        energy_by_role_j={k: v / B for k, v in roles.items()},
        bottleneck_stage=["memory" if m else "compute" for m in
                          ((sum(reads.values()) + kv_w) / bw > (lin + att) / rate)],
        info=RooflineInfo(batch=B, gen_tokens=G, buffer_kb=spec.buffer_kb,
                          compute_bound=bool(np.all((lin + att) / rate >= (sum(reads.values()) + kv_w) / bw))),
    )
