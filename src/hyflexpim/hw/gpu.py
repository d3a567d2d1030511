"""GPU latency and energy from the kernels an inference engine launches (spec kind ``gpu``).

Per layer the kernels of TensorRT's BERT engine (NVIDIA/TensorRT ``demo/BERT/builder.py``): one GEMM per
fused group of weight matrices (Q, K, V as one; a gated FFN's in and gate as one; bias and GELU in its
epilogue), the self-attention (``fused_attention``: one kernel reading Q, K and V and writing the context,
the scores kept on chip; otherwise Q·Kᵀ writing the scores, softmax reading and writing them, scores×V
reading them), and the vector kernels (``fused_epilogues``: two skip-layernorms reading the input and the
residual and writing the sum; otherwise two residual adds, two layernorms and an activation kernel). Outside
the layers: the embedding + layernorm kernel and one GEMM per head matrix (on the last token of each
sequence with ``head_last``).

Each launch takes ``max(MACs / (gemm_efficiency · peak), bytes / bandwidth) + kernel_us``: the tensor-core
work at an achievable fraction of peak or the DRAM traffic (INT8 weights and activations, ``score_bytes`` per
score), whichever is longer, plus a fixed per-kernel cost (launch, synchronisation, tail of a small grid).
``gemm_efficiency`` and ``kernel_us`` are fitted (``hyflexpim.hw.gpu_fit``). A decoder's prefill runs the
prompt (causal attention: L(L+1)/2 entries), then each generated token is one step of the same kernels on
``batch`` rows reading the K/V cache. Energy = ``operating_power_w`` × time (``energy_model: operating``) or
``tdp_w`` × time (``tdp``), split over roles by each kernel's share of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyflexpim.chip.spec import GpuSpec
from hyflexpim.hw.results import GpuInfo, HwResult
from hyflexpim.plan import Architecture

FUSED_GEMMS = (("q", "k", "v"), ("ffn_in", "ffn_gate"))  # one GEMM each when the engine fuses them


@dataclass
class Kernel:
    """One kind of kernel launch: MACs and DRAM bytes per launch (arrays over generation steps or scalars),
    how many launches, and which energy roles its time goes to (shares summing to 1)."""

    name: str
    roles: dict[str, float]
    macs: np.ndarray
    bytes: np.ndarray
    launches: float
    phase: str = "prefill"


Matrices = Sequence[tuple[str, int, int, Any]]  # (role, d_out, d_in, layer or None)
Groups = dict[tuple[tuple[tuple[str, int, int], ...], bool], float]


def _gemm_groups(matrices: Matrices, fused: bool) -> Groups:
    """{((the member matrices (role, d_out, d_in), ...), in a layer?): launches}: one GEMM per fused group of
    one layer's matrices (``FUSED_GEMMS`` with a common d_in), one per other matrix; identical layers merge."""
    per_layer: dict[Any, list[tuple[str, int, int]]] = {}
    for role, d_out, d_in, layer in matrices:
        per_layer.setdefault(layer, []).append((role, d_out, d_in))
    groups: Groups = {}
    for layer, mats in per_layer.items():
        left = list(mats)
        for group in (FUSED_GEMMS if fused and layer is not None else ()):
            members = [m for m in left if m[0] in group]
            if len(members) > 1 and len({m[2] for m in members}) == 1:
                for m in members:
                    left.remove(m)
                key = (tuple(sorted(members)), layer is not None)
                groups[key] = groups.get(key, 0) + 1
        for m in left:
            key = ((m,), layer is not None)
            groups[key] = groups.get(key, 0) + 1
    return groups


def kernels(spec: GpuSpec, shape: Architecture, matrices: Matrices, L: float, batch: int, gen_tokens: int,
            head_last: bool = True, keep: float = 1.0, groups: Groups | None = None) -> list[Kernel]:
    """The launches of one inference of ``batch`` sequences of ``L`` tokens (plus ``gen_tokens`` steps);
    ``groups``: ``_gemm_groups(matrices, spec.fused_gemms)`` when already computed."""
    B, G = batch, (gen_tokens if shape.decoder else 0)
    ab, wb, sb = spec.act_bytes, spec.weight_bytes, spec.score_bytes
    h, heads, hd = shape.hidden, shape.heads, shape.q_dim / shape.heads
    nl, dq, dkv = shape.layers, shape.q_dim, shape.kv_dim
    groups = _gemm_groups(matrices, spec.fused_gemms) if groups is None else groups
    out: list[Kernel] = []

    def step(T: float, rows_head: float, entries: Any, kv_cache: Any, phase: str) -> None:
        """Kernels of one pass over ``T`` tokens; ``entries`` per head and sequence and ``kv_cache`` cached
        tokens of K/V read per sequence (arrays over generation steps, or scalars). Every kernel's MACs and
        bytes are arrays of that shape: one launch per step."""
        first = len(out)
        for (members, in_layer), n in groups.items():
            rows = T if in_layer else rows_head
            d_in = members[0][2]
            d_out = sum(m[1] for m in members)
            macs = rows * d_out * d_in
            byt = d_out * d_in * wb + rows * (d_in + d_out) * ab
            tot = float(sum(m[1] for m in members))
            roles: dict[str, float] = {}
            for m in members:
                roles[m[0]] = roles.get(m[0], 0.0) + m[1] / tot
            out.append(Kernel("gemm:" + "+".join(m[0] for m in members), roles, np.asarray(macs, float),
                              np.asarray(byt, float), n, phase))
        S = B * heads * np.asarray(entries, float) * keep  # scores computed
        kv = (T + B * np.asarray(kv_cache, float) * keep) * dkv * ab  # K (or V) rows read: new and cached
        q, ctx = T * dq * ab, T * dq * ab
        att = {"attention": 1.0}
        if spec.fused_attention:
            out.append(Kernel("attention (fused)", att, 2 * S * hd, q + 2 * kv + ctx, nl, phase))
        else:
            out.append(Kernel("attention QK^T", att, S * hd, q + kv + S * sb, nl, phase))
            out.append(Kernel("softmax", att, 0 * S, 2 * S * sb, nl, phase))
            out.append(Kernel("attention PV", att, S * hd, S * sb + kv + ctx, nl, phase))
        vec = {"vector": 1.0}
        if spec.fused_epilogues:
            out.append(Kernel("skip-layernorm", vec, np.zeros(()), np.asarray(3 * T * h * ab), 2 * nl, phase))
        else:
            out.append(Kernel("residual add", vec, np.zeros(()), np.asarray(3 * T * h * ab), 2 * nl, phase))
            out.append(Kernel("layernorm", vec, np.zeros(()), np.asarray(2 * T * h * ab), 2 * nl, phase))
            out.append(Kernel("activation", vec, np.zeros(()), np.asarray(2 * T * shape.ffn * ab), nl, phase))
        out.append(Kernel("embedding + layernorm", vec, np.zeros(()), np.asarray(2 * T * h * ab), 1.0, phase))
        steps = np.shape(entries)
        for k in out[first:]:
            k.macs = np.broadcast_to(np.asarray(k.macs, float), steps)
            k.bytes = np.broadcast_to(np.asarray(k.bytes, float), steps)

    entries_pre = L * L if not shape.decoder else L * (L + 1) / 2
    step(B * L, B if head_last else B * L, entries_pre, 0.0, "prefill")
    if G:
        c = L + np.arange(1, G + 1, dtype=float)
        step(float(B), float(B), c, c - 1, "generation")
    return out


def kernel_times(ks: list[Kernel], spec: GpuSpec, efficiency: float | None = None,
                 kernel_us: float | None = None) -> tuple[Any, Any, list[bool]]:
    """(busy seconds, overhead seconds, MAC-bound?) of each kernel kind, summed over its launches and steps."""
    eff = spec.gemm_efficiency if efficiency is None else efficiency
    c = (spec.kernel_us if kernel_us is None else kernel_us) * 1e-6
    rate, bw = spec.peak_tmacs * 1e12 * eff, spec.mem_gbps * 1e9
    busy, over, bound = [], [], []
    for k in ks:  # macs and bytes share one shape: () for one pass, (steps,) for generation
        tc, tm = k.macs / rate, k.bytes / bw
        busy.append(k.launches * float(np.maximum(tc, tm).sum()))
        over.append(k.launches * tc.size * c)
        bound.append(bool(tc.sum() >= tm.sum()))
    return np.array(busy), np.array(over), bound


def _power(spec: GpuSpec) -> float:
    return spec.operating_power_w if spec.energy_model == "operating" else spec.tdp_w


def gpu_costs(spec: GpuSpec, shape: Architecture, matrices: Matrices, seq_lens: Any, batch: int, gen_tokens: int,
              head_last: bool = True,
              attention_keep: float = 1.0, scope: str = "model") -> HwResult:
    """Cost of ``batch`` sequences per length in ``seq_lens`` (the roofline's result keys).
    ``matrices``: (role, d_out, d_in, layer or None); ``scope`` "attention": no linear or vector kernels."""
    Ls = np.asarray(seq_lens, dtype=float)
    B, G = batch, (gen_tokens if shape.decoder else 0)
    P = _power(spec)
    t: Any = []
    e_busy: list[float] = []
    e_over: list[float] = []
    roles: dict[str, Any] = {}
    bneck: list[str] = []
    n_launch: list[float] = []
    groups = _gemm_groups(matrices, spec.fused_gemms)
    for i, L in enumerate(Ls):
        ks = kernels(spec, shape, matrices, L, B, G, head_last, attention_keep, groups)
        if scope == "attention":
            ks = [k for k in ks if "attention" in k.roles]
        busy, over, bound = kernel_times(ks, spec)
        tt = busy + over
        t.append(tt.sum())
        e_busy.append(P * busy.sum())
        e_over.append(P * over.sum())
        for k, x in zip(ks, tt):
            for r, s in k.roles.items():
                roles.setdefault(r, np.zeros(len(Ls)))[i] += P * x * s
        n_launch.append(sum(k.launches * k.macs.size for k in ks))
        if over.sum() > busy.sum():
            bneck.append("kernel overhead")
        else:
            bneck.append("compute" if sum(b for b, m in zip(busy, bound) if m) >= busy.sum() / 2 else "memory")
    t = np.asarray(t)
    nl, dq = shape.layers, shape.q_dim
    n_tok = Ls + G
    entries = (Ls * Ls if not shape.decoder else Ls * (Ls + 1) / 2)
    if G:
        entries = entries + (Ls[:, None] + np.arange(1, G + 1)[None, :]).sum(1)
    att_ops = 2.0 * entries * nl * 2 * dq
    if scope == "attention":
        ops = att_ops
    else:
        n_head = np.full_like(Ls, 1.0 + G) if head_last else n_tok
        dense = sum((n_tok if layer is not None else n_head) * o * i for _, o, i, layer in matrices)
        ops = 2.0 * dense + att_ops
    E = (np.asarray(e_busy) + np.asarray(e_over)) / B
    tops = B * ops / t / 1e12
    return HwResult.of(
        throughput_tok_s=B * n_tok / t,
        tops=tops,
        latency_s=t,
        energy_per_inference_j=E,
        energy_per_token_j=E / n_tok,
        tops_per_w=ops / E / 1e12,
        tops_per_mm2=tops / spec.area_mm2,
        area_mm2=np.full_like(Ls, spec.area_mm2),
        power_w=np.full_like(Ls, P),
        ops_per_inference=ops,
        energy_by_component_j={"kernels": np.asarray(e_busy) / B, "kernel_overhead": np.asarray(e_over) / B},
        energy_by_role_j={k: v / B for k, v in roles.items()},
        bottleneck_stage=bneck,
        info=GpuInfo(batch=B, gen_tokens=G, kernel_launches=n_launch, gemm_efficiency=spec.gemm_efficiency,
                     kernel_us=spec.kernel_us, energy_model=spec.energy_model, power_w=P,
                     calibration=spec.calibration),
    )
