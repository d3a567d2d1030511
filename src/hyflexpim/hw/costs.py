"""Time and energy of a mapped model on a PIM chip, vectorised over sequence lengths.

Pipeline: one stage per layer (``pus_per_layer`` PUs each, tensor parallel), stages on consecutive
PUs, then chips; the matrices outside the layers (heads, pooler) form a "head" stage on PUs of their
own, run on the last token of a sequence (``mapping.head_tokens: last``: [CLS], the last prompt token,
then each generated token) or on every token. Per stage and job of n tokens whose attention contexts
sum to CTX:

* analog   n x t_token, where t_token is set by the MLC throughput mechanism (spec
           ``mapping.mlc_throughput``):
    - ``spread``:    weights are spread over the arrays that MLC frees, so the time is (ADC conversions
                     per token x t_conv) / ADCs. MLC halves the columns -> halves the conversions -> halves
                     the time. Spreading stops at one column per ADC (beyond it no time is saved, while
                     every array a row spans costs its drivers): a small model uses only that many arrays.
    - ``replicate``: arrays packed to 128 columns; the layer is copied floor(free/needed) times
                     and tokens are dealt round-robin over the copies.
    - ``none``:      arrays packed, nothing done with freed arrays: MLC saves arrays and energy, not time.
  ``analog.adc_share`` arrays share one ADC: their conversions queue.
* digital  Q.Kᵀ and score x V on NOR-PIM lanes on ``digital.attention_density`` x (the plan's attention
           keep) of the entries: ceil(MACs / lanes) passes x (NOR steps per MAC + the operand bits
           written into the lanes) x 1 ns; K and V rows written once per token; plan matrices kept
           digital; SFU: softmax, 2 LayerNorms, GELU/SiLU at 256 inputs/cycle.
* NoC      ``mapping.scaling: tensor``: two ring all-reduces of the hidden vector per layer when a layer
           spans several PUs (Megatron-style tensor parallelism). The NoC is a resource of its own: in a
           job of n tokens the all-reduces of token t overlap the analog work of token t+1 (tokens stream
           through a GEMV one after another); the digital attention, a barrier over the job's tokens, does
           not overlap them, and the last token's all-reduces are exposed: analog part of the stage =
           max(n x analog, n x all-reduce) + one all-reduce. A single token (generation, batch 1) has
           nothing to overlap: its all-reduces are serial. The activations to the next stage overlap
           with its work (a floor).
           ``pipeline``: a layer of p PUs is p sub-stages, each 1/p of the layer's analog work (a
           balanced split: optimistic, operators differ in size) on its own PU, the attention on one
           of them (one PU's lanes); activations passed on, no all-reduce. A sub-stage is the pipeline's
           unit: the slowest is n x analog / p + the attention; one sequence's latency is unchanged.
           ``data``: the mapping is one copy of the model; ``replicas`` copies share the batch
           (ceil(B / replicas) sequences each).
Stage time = analog (its all-reduces overlapped as above) + digital (``overlap_analog_digital: false``) or
max(...) (true).
Encoder / prefill with B sequences in flight: B sequences take max(latency of one, B x slowest
stage); batch 1 is one sequence at a time, batch >= stages the steady state of a full pipeline.
Decoder generation: per new token T_step = max(single-token latency through all stages,
B x bottleneck stage time for B tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.capacity import check_digital_capacity
from hyflexpim.hw.library import adc_time_ns, chip_area_mm2, conversion_energy_pj, pu_totals
from hyflexpim.hw.mapping import Mapping, Stage, cells_per_weight
from hyflexpim.plan import Architecture

CATEGORIES = ("adc", "arrays", "drivers", "shift_add", "buffers", "digital_pim", "sfu", "interconnect")


@dataclass(frozen=True)
class AnalogCost:
    """The analog part of one stage, per token: time at throughput, one token's chain latency, energies (pJ)."""

    thr_ns: float  # per token with the stage's arrays busy (the mechanism of ``mapping.mlc_throughput``)
    lat_ns: float  # one token through the stage's GEMV chain
    e_cat: dict[str, float]  # by energy category (CATEGORIES)
    e_role: dict[str, float]  # by matrix role


@dataclass(frozen=True)
class NetworkCost:
    """The network part: per stage (arrays over ``mapping.stages``) and per token, the all-reduce time (tensor
    parallelism) and the activation hop (a floor, overlapped); NoC bits per token of the whole model; the
    SerDes links on one sequence's path."""

    ar_ns: np.ndarray
    act_ns: np.ndarray
    noc_bits: float
    link_bits: float
    n_links: int
    link_ns_per_bit: float
    link_pj_per_bit: float
    noc_pj_per_bit: float

    def link_time(self, n):
        """Time (ns) of n tokens' activations over one chip boundary."""
        return n * self.link_bits * self.link_ns_per_bit

    def energy_pj_per_token(self) -> float:
        return self.noc_bits * self.noc_pj_per_bit + self.n_links * self.link_bits * self.link_pj_per_bit


# NoC bits per token and layer of p PUs, in hidden vectors: tensor = the activations in + two ring all-reduces
# (each 2(p-1)/p vectors per PU, p PUs); pipeline = one hop into each sub-stage; data = a replica's tensor layout
NOC_VECTORS = {"tensor": lambda p: 1 + 4 * (p - 1), "pipeline": lambda p: p, "data": lambda p: 1 + 4 * (p - 1)}


def network_costs(mp: Mapping, spec: PimSpec, shape: Architecture) -> NetworkCost:
    noc, link = spec.comp(spec.chip.noc), spec.comp(spec.chip.chip_link)
    vec = spec.mapping.act_bits * shape.hidden  # bits of one hidden vector
    tp = 0.0 if mp.scaling == "pipeline" else 1.0  # sub-stages pass activations on, they do not all-reduce
    ar_bits = [tp * vec * 2 * 2 * (s.pus - 1) / s.pus for s in mp.stages]  # 2 ring all-reduces
    return NetworkCost(
        ar_ns=np.array([b * noc.latency_ns for b in ar_bits]),
        act_ns=np.full(len(mp.stages), vec * noc.latency_ns),
        noc_bits=sum(vec * NOC_VECTORS[mp.scaling](s.pus) for s in mp.stages if s.is_layer),
        link_bits=vec, n_links=mp.chips_per_replica - 1,  # chip boundaries on one sequence's path (one replica)
        link_ns_per_bit=link.latency_ns, link_pj_per_bit=link.energy_pj, noc_pj_per_bit=noc.energy_pj)


def stage_analog(st: Stage, spec: PimSpec, per_pu: int, e_conv: dict) -> AnalogCost:
    """Per-token analog time (throughput and chain latency) and energies of one stage."""
    a = spec.analog
    t = {True: adc_time_ns(spec, a.adc_bits_slc), False: adc_time_ns(spec, a.adc_bits_mlc)}
    share = a.adc_share
    need = st.arrays()
    # spreading stops where it stops paying: at one column per ADC (C columns to convert -> C·share arrays);
    # a small layer on a big PU is not smeared over every array (each array spanned costs its row drivers)
    mode = spec.mapping.mlc_throughput
    columns = sum(b.row_tiles * b.cols for b in st.blocks)
    avail = st.pus * per_pu if mode != "spread" else min(st.pus * per_pu, max(need, columns * share))
    spread = need / avail if mode == "spread" and avail else 1.0
    packed = share * a.input_bits * max(min(b.cols, a.cols) * t[b.slc] for b in st.blocks) if st.blocks else 0.0
    if mode == "spread":
        conv_t = sum(b.row_tiles * b.cols * a.input_bits * t[b.slc] for b in st.blocks)
        thr = max(conv_t / (avail / share), share * a.input_bits * min(t.values())) if st.blocks else 0.0
    elif mode == "replicate":
        thr = packed / max(1, avail // max(need, 1))
    else:
        thr = packed
    steps: dict[int, float] = {}
    for b in st.blocks:
        steps[b.step] = max(steps.get(b.step, 0.0), share * a.input_bits * min(b.cols, a.cols) * t[b.slc] * spread)
    lat = sum(max(v, share * a.input_bits * min(t.values())) for v in steps.values())  # >= one column per ADC

    e_cat = dict.fromkeys(CATEGORIES, 0.0)
    e_role: dict[str, float] = {}
    drv, add = spec.comp(a.driver).energy_pj, spec.comp(a.psum_adder).energy_pj
    for b in st.blocks:
        conv = b.row_tiles * b.cols * a.input_bits
        parts = {k: conv * v for k, v in e_conv[b.slc].items()}
        # row-bits driven: each row in every array its columns span. Packed, a row spans its block's column tiles;
        # spread over ``avail`` arrays, each array holds columns / avail of the stage's row-tile columns, so a
        # block's rows drive rows x cols x avail / columns array rows (its share, not the packed tiles' ceiling)
        spans = b.cols * avail / columns if mode == "spread" and columns else b.col_tiles
        parts["drivers"] = b.rows * spans * a.input_bits * drv
        parts["shift_add"] += ((b.row_tiles - 1) * b.outputs + b.merge_adds) * add
        for k, v in parts.items():
            e_cat[k] += v
        e_role[b.role] = e_role.get(b.role, 0.0) + sum(parts.values())
    return AnalogCost(thr, lat, e_cat, e_role)


def topk_visits(keep: float) -> float:
    """Expected scores streamed per entry when random-pivot quick-select (SpAtten's top-k engine) keeps the share
    ``keep`` of a long row: 2 + 2k·ln(1/k) + 2(1-k)·ln(1/(1-k)) (the expected comparisons of Hoare's selection,
    n -> infinity); 0 when every entry is kept (nothing to select). With ~2·ln(n) rounds per row this is within
    ~7 % of the cycles of SpAtten's own latency model (TopKLatencyModel.scala) at n = 128 .. 65,536 (docs/hw.md)."""
    if keep >= 1.0:
        return 0.0
    k = max(keep, 1e-12)
    return 2.0 + 2.0 * k * math.log(1.0 / k) + 2.0 * (1.0 - k) * math.log(1.0 / (1.0 - k))


def topk_rounds(row_len):
    """Expected quick-select rounds over a row of ``row_len`` scores (~2·ln n; at least one)."""
    return 2.0 * np.log(np.maximum(row_len, 2.0))


def prediction_costs(spec: PimSpec, head_dim: float, keep: float | None = None) -> dict:
    """Work of deciding which entries to compute (``spec.prediction``), per (query, key, head) entry: ``units``
    lane operations of ``steps`` NOR steps each, spread over the lanes like the exact part's MACs; then the top-k
    engines (``prediction.topk``, ``topk_engines`` per digital module) stream ``topk_visits`` scores per entry:
    ``topk_ns_per_entry`` and ``topk_round_ns`` per quick-select round of a row, per digital module; energy (pJ)
    per entry. PQ also
    builds, per token and head, its lookup table (the M·K centroid dot products of the query) and the codes of the
    key (its M·K dot products): each dot product reads an INT8 centroid stored bit-sliced in SLC columns
    (``cells_per_weight`` SLC = 8 columns) with ``input_bits`` bit-serial input bits -> ``conversions_per_token``
    SLC conversions, and drives head_dim/M rows per input bit (``driver_row_bits_per_token``).
    ``keep``: the share of entries kept (default ``digital.attention_density``)."""
    pr, d = spec.prediction, spec.digital
    keep = d.attention_density if keep is None else keep
    nor_ns = spec.comp(d.pim).latency_ns
    wr = (spec.comp(d.write).latency_ns or nor_ns) / nor_ns
    mac = {"exact": (head_dim, d.mac_steps(*d.qk_bits)), "low_bit": (head_dim, d.mac_steps(pr.bits, pr.bits)),
           "page_bound": (2 * head_dim / pr.page, d.mac_steps(*d.qk_bits)),
           "pq": (1.0, pr.subspaces * pr.lut_bits * (d.add_per_bit + wr)),  # gather M table entries, add them
           "accumulated": (1.0, d.add_per_bit * d.sv_bits[0]), "none": (0.0, 0.0)}
    units, steps = mac[pr.kind]  # lane operations per entry, NOR steps per operation
    topk = spec.comp(pr.topk)
    selects = pr.kind != "none"
    visits = topk_visits(keep) if selects else 0.0
    dots = 2 * pr.subspaces * pr.centroids if pr.kind == "pq" else 0  # table (query) + codes (key), per token, head
    return {"units": units, "steps": steps, "selects": selects, "topk_visits": visits,
            "topk_ns_per_entry": visits * (topk.latency_ns or 1.0 / spec.clock_ghz) / pr.topk_engines,
            "topk_round_ns": pr.topk_round_cycles / spec.clock_ghz * (visits > 0) / pr.topk_engines,
            "energy_pj": units * steps * spec.comp(d.pim).energy_pj + visits * topk.energy_pj,
            "conversions_per_token": dots * spec.analog.input_bits * cells_per_weight(spec, True),
            "driver_row_bits_per_token": dots * head_dim / pr.subspaces * spec.analog.input_bits}


def pim_costs(mp: Mapping, spec: PimSpec, shape: Architecture, seq_lens, batch: int, gen_tokens: int,
              attention_keep: float = 1.0) -> dict:
    """All outputs for one spec and plan, arrays over ``seq_lens``."""
    L = np.asarray(seq_lens, dtype=float)
    d, a = spec.digital, spec.analog
    # the room for K/V and scores: the smallest layer stage's digital PIM (pipeline: the one PU holding the attention),
    # for the sequences of one replica (data)
    layer_pus = 1 if mp.scaling == "pipeline" else min((s.pus for s in mp.stages if s.is_layer), default=1)
    room_tokens = check_digital_capacity(spec, shape, layer_pus, L, -(-batch // mp.replicas), gen_tokens)
    nor_ns, e_nor = spec.comp(d.pim).latency_ns, spec.comp(d.pim).energy_pj
    wr_ns, e_wr = spec.comp(d.write).latency_ns or nor_ns, spec.comp(d.write).energy_pj
    sfu_ns, e_sfu = spec.comp(d.sfu).latency_ns, spec.comp(d.sfu).energy_pj
    copy_bits = d.qk_bits[0] + d.sv_bits[0]  # operand bits written into a lane per (query, key) MAC pair
    s_att = d.mac_steps(*d.qk_bits) + d.mac_steps(*d.sv_bits) + copy_bits * wr_ns / nor_ns
    s_88 = d.mac_steps(8, 8)
    density = d.attention_density * attention_keep
    pred = prediction_costs(spec, shape.q_dim / shape.heads, density)
    t_conv_slc = adc_time_ns(spec, a.adc_bits_slc)
    dq, dkv, heads = shape.q_dim, shape.kv_dim, shape.heads
    kv_bits = 2 * dkv * 8  # K and V of one token, INT8
    per_pu = mp.arrays_per_pu
    head_last = spec.mapping.head_tokens == "last"

    e_conv = {True: conversion_energy_pj(spec, True), False: conversion_energy_pj(spec, False)}
    memo: dict = {}  # identical layers map identically: compute each distinct stage once
    st = []
    for s in mp.stages:
        key = (s.pus, tuple((b.role, b.step, b.slc, b.rows, b.cols, b.merge_adds) for b in s.blocks))
        if key not in memo:
            memo[key] = stage_analog(s, spec, per_pu, e_conv)
        st.append(memo[key])
    p = np.array([s.pus for s in mp.stages], dtype=float)
    pipe = mp.scaling == "pipeline"
    # digital work of a stage: on all its PUs (tensor), or on the one sub-stage PU that holds the attention (pipeline)
    p_dig = np.where([s.is_layer and pipe for s in mp.stages], 1.0, p)
    net = network_costs(mp, spec, shape)
    thr = np.array([x.thr_ns for x in st])
    V = {  # per-stage vectors
        "layer": np.array([s.is_layer for s in mp.stages], dtype=float),
        "thr": thr,
        "lanes": p_dig * spec.pu.digital_modules * d.arrays * d.rows,
        "adcs": p * per_pu / a.adc_share,
        "sfus": p_dig * spec.pu.digital_modules,
        "dig": np.array([s.digital_macs for s in mp.stages], dtype=float),
        "ar_ns": net.ar_ns,  # per token; overlapped within a job (above)
        "act_ns": net.act_ns,  # per token, overlapped
        # pipeline: the other p - 1 sub-stages of a layer, on one sequence's path but not the pipeline's bottleneck
        "sub_ns": np.where([s.is_layer and pipe for s in mp.stages], p - 1, 0.0) * thr,
    }
    lat_a = np.array([x.lat_ns for x in st])
    n_links = net.n_links
    link_time = net.link_time
    overlap = spec.mapping.overlap_analog_digital

    def stage_time(n, n_head, ctx):
        """Time (ns) of each stage (axis 0) for n tokens (n_head for the head stage) whose attention
        contexts sum to ctx. ``n``, ``n_head`` and ``ctx`` carry the other axes behind a leading 1."""
        v = {k: x.reshape((-1,) + (1,) * (np.ndim(ctx) - 1)) for k, x in V.items()}
        lay = v["layer"]
        m = lay * n + (1 - lay) * n_head  # tokens through each stage
        m_att = ctx * dq * density * lay
        passes = np.ceil(m_att / v["lanes"])
        t_pim = (passes * s_att + np.ceil(m * v["dig"] / v["lanes"]) * s_88) * nor_ns + lay * n * wr_ns  # + K/V rows
        if pred["selects"]:  # deciding which entries to compute: every entry of every head, then top-k per row
            t_pim = t_pim + np.ceil(ctx * heads * pred["units"] * lay / v["lanes"]) * pred["steps"] * nor_ns
            rows = lay * n * heads  # (query, head) rows, each of ctx / n entries on average
            t_pim = t_pim + (lay * ctx * heads * pred["topk_ns_per_entry"]
                             + rows * topk_rounds(ctx / np.maximum(n, 1)) * pred["topk_round_ns"]) / v["sfus"]
            t_pim = t_pim + lay * n * heads * pred["conversions_per_token"] * t_conv_slc / v["adcs"]
        per_tok = 2 * shape.hidden * d.layernorm_ops + shape.ffn * d.act_ops
        sfu_el = lay * (heads * ctx * density * d.softmax_ops + n * per_tok)
        t_dig = t_pim + sfu_el * sfu_ns / v["sfus"]
        t_an = np.maximum(m * v["thr"], m * v["ar_ns"]) + np.minimum(m, 1.0) * v["ar_ns"]  # all-reduces overlapped
        comp = np.maximum(t_an, t_dig) if overlap else t_an + t_dig
        return np.maximum(comp, m * v["act_ns"]), t_dig

    B = -(-batch // mp.replicas)  # sequences per replica (scaling: data)
    ctx_pre = L * L if not shape.decoder else L * (L + 1) / 2
    n_head_pre = np.ones_like(L) if head_last else L
    t_pre, tdig_pre = stage_time(L[None, :], n_head_pre[None, :], ctx_pre[None, :])  # (S, nL)
    lat_pre = t_pre.sum(0) + (V["sub_ns"][:, None] * L[None, :]).sum(0) + n_links * link_time(L)
    bott_pre = np.maximum(t_pre.max(0), link_time(L) if n_links else 0.0)
    T_total = np.maximum(lat_pre, B * bott_pre)  # B sequences in flight
    latency = lat_pre.copy()
    G = gen_tokens if shape.decoder else 0
    ctx_gen = np.zeros_like(L)
    if G:
        c = L[:, None] + np.arange(1, G + 1)[None, :]  # (nL, G)
        c3 = c[None, :, :]
        _, t_dig1 = stage_time(1.0, 1.0, c3)
        hop = (V["act_ns"] + V["ar_ns"])[:, None, None]  # one token: its all-reduces are serial
        lat1 = (lat_a[:, None, None] + t_dig1 + hop).sum(0) + n_links * link_time(1)
        tB, _ = stage_time(float(B), float(B), B * c3)
        step = np.maximum(lat1, np.maximum(tB.max(0), link_time(B) if n_links else 0.0))
        T_total = T_total + step.sum(1)
        latency = latency + step.sum(1)
        ctx_gen = c.sum(1)
    n_tok = L + G
    n_head = np.full_like(L, 1.0 + G) if head_last else n_tok
    ctx_all = (ctx_pre + ctx_gen) * density
    n_layers = float(V["layer"].sum())
    tokens = [n_tok if s.is_layer else n_head for s in mp.stages]  # per stage, per inference

    # energy: per token of each stage (linear, digital matrices, SFU per-token work, NoC, links, K/V writes,
    # embedding read) and per attention entry
    e_cat = dict.fromkeys(CATEGORIES, 0.0)
    e_role: dict[str, np.ndarray] = {}
    for x, tk in zip(st, tokens):
        for k, v in x.e_cat.items():
            e_cat[k] = e_cat[k] + tk * v
        for k, v in x.e_role.items():
            e_role[k] = e_role.get(k, 0.0) + tk * v
    dig = sum(tk * s.digital_macs for s, tk in zip(mp.stages, tokens)) * s_88 * e_nor
    kv_write = n_tok * n_layers * kv_bits * e_wr
    embed = n_tok * shape.hidden * 8 * e_nor  # one row of the embedding table read per token
    tok_sfu = n_layers * (2 * shape.hidden * d.layernorm_ops + shape.ffn * d.act_ops) * e_sfu
    tok_net = net.energy_pj_per_token()
    att_pim = ctx_all * n_layers * dq * ((d.mac_steps(*d.qk_bits) + d.mac_steps(*d.sv_bits)) * e_nor + copy_bits * e_wr)
    ctx_sfu = ctx_all * n_layers * heads * d.softmax_ops * e_sfu
    e_pred = ((ctx_pre + ctx_gen) * n_layers * heads * pred["energy_pj"]
              + n_tok * n_layers * heads * (pred["conversions_per_token"] * sum(e_conv[True].values())
                                            + pred["driver_row_bits_per_token"] * spec.comp(a.driver).energy_pj))
    E_cat = {k: v * 1e-12 for k, v in e_cat.items()}
    E_cat["digital_pim"] = (dig + kv_write + embed + att_pim + e_pred) * 1e-12
    E_cat["sfu"] = (n_tok * tok_sfu + ctx_sfu) * 1e-12
    E_cat["interconnect"] = n_tok * tok_net * 1e-12
    E_role = {k: v * 1e-12 for k, v in e_role.items()}
    E_role["attention"] = (att_pim + kv_write) * 1e-12
    if np.any(e_pred):
        E_role["prediction"] = e_pred * 1e-12
    if np.any(dig):
        E_role["digital_matrices"] = dig * 1e-12
    E_role["embedding"] = embed * 1e-12
    E_role["sfu"] = E_cat["sfu"]
    E_role["interconnect"] = E_cat["interconnect"]
    E_inf = sum(E_cat.values())

    dense = sum(tk * s.dense_macs for s, tk in zip(mp.stages, tokens))
    ops = 2.0 * (dense + ctx_all / density * n_layers * 2 * dq)  # dense-equivalent work
    T_s = T_total * 1e-9
    area = mp.chips * chip_area_mm2(spec)
    tops = batch * ops / T_s / 1e12
    pu = pu_totals(spec)
    names = [s.key for s in mp.stages]
    bott_i = t_pre.argmax(0)
    return {
        "throughput_tok_s": batch * n_tok / T_s,
        "tops": tops,
        "latency_s": latency * 1e-9,
        "energy_per_inference_j": E_inf,
        "energy_per_token_j": E_inf / n_tok,
        "tops_per_w": ops / E_inf / 1e12,
        "tops_per_mm2": tops / area,
        "area_mm2": np.full_like(L, area),
        "power_w": batch * E_inf / T_s,
        "ops_per_inference": ops,
        "energy_by_component_j": E_cat,
        "energy_by_role_j": E_role,
        "bottleneck_stage": [f"{names[i]}: {'digital' if tdig_pre[i, j] > t_pre[i, j] / 2 else 'analog'} "
                             f"{max(tdig_pre[i, j], t_pre[i, j] - tdig_pre[i, j]) / t_pre[i, j]:.0%}"
                             for j, i in enumerate(bott_i)],
        "bottleneck_share": t_pre.max(0) / t_pre.sum(0),
        "info": {
            "encoding": spec.analog.encoding, "mlc_bits": spec.analog.mlc_bits,
            "cells_per_weight_slc": cells_per_weight(spec, True), "cells_per_weight_mlc": cells_per_weight(spec, False),
            "adc_bits_mlc": a.adc_bits_mlc, "adc_exact_bits_mlc": a.exact_adc_bits(False), "adc_range": a.adc_range,
            "adc_covers_levels_mlc": a.adc_covered_levels(False),
            "attention_density": density, "prediction": spec.prediction.kind,
            "chips": mp.chips, "pus_per_layer": mp.pus_per_layer, "stages": len(mp.stages),
            "head_pus": sum(s.pus for s in mp.stages if not s.is_layer),
            "pus_used": sum(s.pus for s in mp.stages), "layers_per_chip": mp.layers_per_chip,
            "arrays_used": mp.arrays_used, "arrays_slc": sum(s.arrays(True) for s in mp.stages),
            "arrays_mlc": sum(s.arrays(False) for s in mp.stages),
            "array_utilisation": mp.utilisation, "array_fill": mp.array_fill,
            "fits_one_chip": mp.chips == 1, "slc_weight_fraction": mp.slc_weight_fraction,
            "excluded_matrices": mp.excluded, "batch": batch, "gen_tokens": G,
            "scaling": mp.scaling, "replicas": mp.replicas,
            "peak_power_w_per_pu": pu["power_w"], "area_mm2_per_pu": pu["area_mm2"],
            "analog_ns_per_token_bottleneck": max(x.thr_ns for x in st),
            "digital_room_tokens": room_tokens,
        },
    }
