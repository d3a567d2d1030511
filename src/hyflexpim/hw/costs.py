"""Time and energy of a mapped model on a PIM chip, vectorised over sequence lengths.

Pipeline: one stage per layer (``pus_per_layer`` PUs each, tensor parallel), stages on
consecutive PUs, then chips. Per stage and job of n tokens whose attention contexts sum to CTX:

* analog   n x t_token, where t_token is set by the MLC throughput mechanism (spec
           ``mapping.mlc_throughput``):
    - ``spread``:    every ADC of the stage's PUs is used; weights are spread over the arrays that
                     MLC frees, so the time is (ADC conversions per token x t_conv) / ADCs.
                     MLC halves the columns -> halves the conversions -> halves the time.
    - ``replicate``: arrays packed to 128 columns; the layer is copied floor(free/needed) times
                     and tokens are dealt round-robin over the copies.
    - ``none``:      arrays packed, nothing done with freed arrays: MLC saves arrays and energy, not time.
* digital  Q.Kᵀ and score x V on NOR-PIM lanes: ceil(MACs / lanes) x NOR steps per MAC x 1 ns,
           plus plan matrices kept digital; SFU: softmax, 2 LayerNorms, GELU/SiLU at 256 inputs/cycle.
* NoC      activations to the next stage, plus two ring all-reduces of the hidden vector per layer
           when a layer spans several PUs (Megatron-style tensor parallelism).
Stage time = analog + digital (``overlap_analog_digital: false``) or max(...) (true).
Encoder / prefill: steady state of a stream of sequences: B sequences take B x slowest stage
time; the latency of one sequence is the sum of its stage times.
Decoder generation: per new token T_step = max(single-token latency through all stages,
B x bottleneck stage time for B tokens).
"""

from __future__ import annotations

import numpy as np

from hyflexpim.hw.library import adc_time_ns, chip_area_mm2, conversion_energy_pj, pu_totals
from hyflexpim.hw.mapping import Mapping, Stage, cells_per_weight
from hyflexpim.chip.spec import PimSpec
from hyflexpim.plan import Architecture

CATEGORIES = ("adc", "arrays", "drivers", "shift_add", "buffers", "digital_pim", "sfu", "interconnect")


def _stage_analog(st: Stage, spec: PimSpec, per_pu: int, e_conv: dict) -> dict:
    """Per-token analog time (throughput and chain latency) and energies of one stage."""
    a = spec.analog
    t = {True: adc_time_ns(spec, a.adc_bits_slc), False: adc_time_ns(spec, a.adc_bits_mlc)}
    avail = st.pus * per_pu
    need = st.arrays()
    mode = spec.mapping.mlc_throughput
    spread = need / avail if mode == "spread" else 1.0
    packed = a.input_bits * max(min(b.cols, a.cols) * t[b.slc] for b in st.blocks) if st.blocks else 0.0
    if mode == "spread":
        conv_t = sum(b.row_tiles * b.cols * a.input_bits * t[b.slc] for b in st.blocks)
        thr = max(conv_t / avail, a.input_bits * min(t.values())) if st.blocks else 0.0
    elif mode == "replicate":
        thr = packed / max(1, avail // max(need, 1))
    else:
        thr = packed
    steps: dict[int, float] = {}
    for b in st.blocks:
        steps[b.step] = max(steps.get(b.step, 0.0), a.input_bits * min(b.cols, a.cols) * t[b.slc] * spread)
    lat = sum(max(v, a.input_bits * min(t.values())) for v in steps.values())  # >= one column per array

    e_cat = dict.fromkeys(CATEGORIES, 0.0)
    e_role: dict[str, float] = {}
    drv, add = spec.comp(a.driver).energy_pj, spec.comp(a.psum_adder).energy_pj
    for b in st.blocks:
        conv = b.row_tiles * b.cols * a.input_bits
        parts = {k: conv * v for k, v in e_conv[b.slc].items()}
        parts["drivers"] = b.rows * b.col_tiles * a.input_bits / spread * drv
        parts["shift_add"] += ((b.row_tiles - 1) * b.outputs + b.merge_adds) * add
        for k, v in parts.items():
            e_cat[k] += v
        e_role[b.role] = e_role.get(b.role, 0.0) + sum(parts.values())
    return {"thr_ns": thr, "lat_ns": lat, "e_cat": e_cat, "e_role": e_role}


def pim_costs(mp: Mapping, spec: PimSpec, shape: Architecture, seq_lens, batch: int, gen_tokens: int) -> dict:
    """All outputs for one spec and plan, arrays over ``seq_lens``."""
    L = np.asarray(seq_lens, dtype=float)
    d, a = spec.digital, spec.analog
    nor_ns, e_nor = spec.comp(d.pim).latency_ns, spec.comp(d.pim).energy_pj
    sfu_ns, e_sfu = spec.comp(d.sfu).latency_ns, spec.comp(d.sfu).energy_pj
    noc, link = spec.comp(spec.chip.noc), spec.comp(spec.chip.chip_link)
    s_qk, s_sv, s_88 = d.mac_steps(*d.qk_bits), d.mac_steps(*d.sv_bits), d.mac_steps(8, 8)
    bits = spec.mapping.act_bits
    dq, dkv, heads = shape.q_dim, shape.kv_dim, shape.heads
    ffn_elems = shape.ffn
    per_pu = mp.arrays_per_pu

    e_conv = {True: conversion_energy_pj(spec, True), False: conversion_energy_pj(spec, False)}
    memo: dict = {}  # identical layers map identically: compute each distinct stage once
    st = []
    for s in mp.stages:
        key = (s.pus, tuple((b.role, b.step, b.slc, b.rows, b.cols, b.merge_adds) for b in s.blocks))
        if key not in memo:
            memo[key] = _stage_analog(s, spec, per_pu, e_conv)
        st.append(memo[key])
    p = np.array([s.pus for s in mp.stages], dtype=float)
    V = {  # per-stage vectors
        "layer": np.array([s.key != "extra" for s in mp.stages], dtype=float),
        "thr": np.array([x["thr_ns"] for x in st]),
        "lanes": p * spec.pu.digital_modules * d.arrays * d.rows,
        "sfus": p * spec.pu.digital_modules,
        "dig": np.array([s.digital_macs for s in mp.stages], dtype=float),
        # activations to the next stage + 2 ring all-reduces of the hidden vector per layer (Megatron-style
        # tensor parallelism); time counts the bits on one PU's link, energy all bits moved
        "noc_bits": np.array([bits * shape.hidden * (1 + 4 * (s.pus - 1) / s.pus) for s in mp.stages]),
    }
    noc_energy_bits = sum(bits * shape.hidden * (1 + 4 * (s.pus - 1)) for s in mp.stages)
    lat_a = np.array([x["lat_ns"] for x in st])
    link_bits = bits * shape.hidden
    n_links = mp.chips - 1
    overlap = spec.mapping.overlap_analog_digital

    def stage_time(n, ctx):
        """Time (ns) of each stage (axis 0) for n tokens whose attention contexts sum to ctx.

        ``n`` and ``ctx`` carry the other axes (sequence length, generation step) behind a leading 1."""
        v = {k: x.reshape((-1,) + (1,) * (np.ndim(ctx) - 1)) for k, x in V.items()}
        m_att = ctx * dq * v["layer"]
        passes = np.ceil(m_att / v["lanes"])
        t_pim = (passes * (s_qk + s_sv) + np.ceil(n * v["dig"] / v["lanes"]) * s_88) * nor_ns
        per_tok = 2 * shape.hidden * d.layernorm_ops + ffn_elems * d.act_ops
        sfu_el = v["layer"] * (heads * ctx * d.softmax_ops + n * per_tok)
        t_dig = t_pim + sfu_el * sfu_ns / v["sfus"]
        t_an = n * v["thr"]
        comp = np.maximum(t_an, t_dig) if overlap else t_an + t_dig
        return np.maximum(comp, n * v["noc_bits"] * noc.latency_ns), t_dig

    def link_time(n):
        return n * link_bits * link.latency_ns

    B = batch
    ctx_pre = L * L if not shape.decoder else L * (L + 1) / 2
    t_pre, _ = stage_time(L[None, :], ctx_pre[None, :])  # (S, nL)
    lat_pre = t_pre.sum(0) + n_links * link_time(L)
    bott_pre = np.maximum(t_pre.max(0), link_time(L) if n_links else 0.0)
    T_total = B * bott_pre  # steady-state stream of sequences through the pipeline
    latency = lat_pre.copy()
    G = gen_tokens if shape.decoder else 0
    ctx_gen = np.zeros_like(L)
    if G:
        c = L[:, None] + np.arange(1, G + 1)[None, :]  # (nL, G)
        c3 = c[None, :, :]
        _, t_dig1 = stage_time(1.0, c3)
        hop = V["noc_bits"][:, None, None] * noc.latency_ns
        lat1 = (lat_a[:, None, None] + t_dig1 + hop).sum(0) + n_links * link_time(1)
        tB, _ = stage_time(float(B), B * c3)
        step = np.maximum(lat1, np.maximum(tB.max(0), link_time(B) if n_links else 0.0))
        T_total = T_total + step.sum(1)
        latency = latency + step.sum(1)
        ctx_gen = c.sum(1)
    n_tok = L + G
    ctx_all = ctx_pre + ctx_gen
    n_layers = float(V["layer"].sum())

    # energy: per token (linear, digital matrices, SFU per-token work, NoC, links) and per context unit
    e_cat = dict.fromkeys(CATEGORIES, 0.0)
    e_role: dict[str, float] = {}
    for x in st:
        for k, v in x["e_cat"].items():
            e_cat[k] += v
        for k, v in x["e_role"].items():
            e_role[k] = e_role.get(k, 0.0) + v
    dig = V["dig"]
    tok_pim = float(dig.sum()) * s_88 * e_nor + n_layers * 2 * dkv * 8 * e_nor  # digital matrices + K/V writes
    tok_sfu = n_layers * (2 * shape.hidden * d.layernorm_ops + ffn_elems * d.act_ops) * e_sfu
    tok_net = noc_energy_bits * noc.energy_pj + n_links * link_bits * link.energy_pj
    ctx_pim = n_layers * dq * (s_qk + s_sv) * e_nor
    ctx_sfu = n_layers * heads * d.softmax_ops * e_sfu
    E_cat = {k: n_tok * v * 1e-12 for k, v in e_cat.items()}
    E_cat["digital_pim"] = (n_tok * tok_pim + ctx_all * ctx_pim) * 1e-12
    E_cat["sfu"] = (n_tok * tok_sfu + ctx_all * ctx_sfu) * 1e-12
    E_cat["interconnect"] = n_tok * tok_net * 1e-12
    E_role = {k: n_tok * v * 1e-12 for k, v in e_role.items()}
    E_role["attention"] = ctx_all * ctx_pim * 1e-12 + n_tok * n_layers * 2 * dkv * 8 * e_nor * 1e-12
    if dig.sum():
        E_role["digital_matrices"] = n_tok * float(dig.sum()) * s_88 * e_nor * 1e-12
    E_role["sfu"] = E_cat["sfu"]
    E_role["interconnect"] = E_cat["interconnect"]
    E_inf = sum(E_cat.values())

    ops = 2.0 * (n_tok * sum(s.dense_macs for s in mp.stages) + ctx_all * n_layers * 2 * dq)
    T_s = T_total * 1e-9
    area = mp.chips * chip_area_mm2(spec)
    tops = B * ops / T_s / 1e12
    pu = pu_totals(spec)
    return {
        "throughput_tok_s": B * n_tok / T_s,
        "tops": tops,
        "latency_s": latency * 1e-9,
        "energy_per_inference_j": E_inf,
        "energy_per_token_j": E_inf / n_tok,
        "tops_per_w": ops / E_inf / 1e12,
        "tops_per_mm2": tops / area,
        "area_mm2": np.full_like(L, area),
        "power_w": B * E_inf / T_s,
        "ops_per_inference": ops,
        "energy_by_component_j": E_cat,
        "energy_by_role_j": E_role,
        "info": {
            "encoding": spec.analog.encoding, "mlc_bits": spec.analog.mlc_bits,
            "cells_per_weight_slc": cells_per_weight(spec, True), "cells_per_weight_mlc": cells_per_weight(spec, False),
            "chips": mp.chips, "pus_per_layer": mp.pus_per_layer, "stages": len(mp.stages),
            "pus_used": sum(s.pus for s in mp.stages), "layers_per_chip": mp.layers_per_chip,
            "arrays_used": mp.arrays_used, "arrays_slc": sum(s.arrays(True) for s in mp.stages),
            "arrays_mlc": sum(s.arrays(False) for s in mp.stages),
            "array_utilisation": mp.utilisation, "array_fill": mp.array_fill,
            "fits_one_chip": mp.chips == 1, "slc_weight_fraction": mp.slc_weight_fraction,
            "excluded_matrices": mp.excluded, "batch": B, "gen_tokens": G,
            "peak_power_w_per_pu": pu["power_w"], "area_mm2_per_pu": pu["area_mm2"],
            "analog_ns_per_token_bottleneck": max(x["thr_ns"] for x in st),
        },
    }
