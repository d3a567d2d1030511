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
The parts: ``costs_analog`` (per stage and token on the arrays), ``costs_digital`` (attention, SFU, K/V writes,
digital matrices), ``costs_network`` (NoC and chip links), ``costs_prediction`` (a registry keyed by predictor kind:
scoring, table build, top-k selection, resident codes); ``pim_costs`` composes them into an ``HwResult``.
Stage time = analog (its all-reduces overlapped as above) + digital (``overlap_analog_digital: false``) or
max(...) (true).
Encoder / prefill with B sequences in flight: B sequences take max(latency of one, B x slowest
stage); batch 1 is one sequence at a time, batch >= stages the steady state of a full pipeline.
Decoder generation: per new token T_step = max(single-token latency through all stages,
B x bottleneck stage time for B tokens).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.capacity import check_digital_capacity
from hyflexpim.hw.costs_analog import CATEGORIES, AnalogCost, stage_analog
from hyflexpim.hw.costs_digital import DigitalCost, DigitalEnergy, digital_costs
from hyflexpim.hw.costs_network import NOC_VECTORS, NetworkCost, network_costs
from hyflexpim.hw.costs_prediction import (
    PREDICTORS,
    PredictionCost,
    Predictor,
    prediction_costs,
    register_predictor,
    topk_rounds,
    topk_visits,
)
from hyflexpim.hw.library import (
    adc_time_ns,
    chip_area_mm2,
    conversion_energy_pj,
    pu_totals,
)
from hyflexpim.hw.mapping import Mapping, cells_per_weight
from hyflexpim.hw.results import HwResult, PimInfo
from hyflexpim.plan import Architecture

__all__ = ["CATEGORIES", "NOC_VECTORS", "PREDICTORS", "AnalogCost", "DigitalCost", "DigitalEnergy", "NetworkCost",
           "PredictionCost", "Predictor", "digital_costs", "network_costs", "pim_costs", "prediction_costs",
           "register_predictor", "stage_analog", "topk_rounds", "topk_visits"]


def pim_costs(mp: Mapping, spec: PimSpec, shape: Architecture, seq_lens: Any, batch: int, gen_tokens: int,
              attention_keep: float = 1.0) -> HwResult:
    """All outputs for one spec and plan, per length in ``seq_lens``: the analog, digital, network and prediction
    parts composed into the pipeline's time and the inference's energy."""
    L = np.asarray(seq_lens, dtype=float)
    a = spec.analog
    # the room for K/V and scores: the smallest layer stage's digital PIM (pipeline: the one PU holding the attention),
    # for the sequences of one replica (data)
    layer_pus = 1 if mp.scaling == "pipeline" else min((s.pus for s in mp.stages if s.is_layer), default=1)
    room_tokens = check_digital_capacity(spec, shape, layer_pus, L, -(-batch // mp.replicas), gen_tokens)
    dg = digital_costs(spec, shape, attention_keep)
    density = dg.density
    pred = prediction_costs(spec, shape.q_dim / shape.heads, density)
    t_conv_slc = adc_time_ns(spec, a.adc_bits_slc)
    per_pu = mp.arrays_per_pu
    head_last = spec.mapping.head_tokens == "last"

    e_conv = {True: conversion_energy_pj(spec, True), False: conversion_energy_pj(spec, False)}
    memo: dict[Any, AnalogCost] = {}  # identical layers map identically: compute each distinct stage once
    st: list[AnalogCost] = []
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
    d = spec.digital
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

    def stage_time(n: Any, n_head: Any, ctx: Any) -> tuple[Any, Any]:
        """Time (ns) of each stage (axis 0) for n tokens (n_head for the head stage) whose attention
        contexts sum to ctx. ``n``, ``n_head`` and ``ctx`` carry the other axes behind a leading 1."""
        v = {k: x.reshape((-1,) + (1,) * (np.ndim(ctx) - 1)) for k, x in V.items()}
        lay = v["layer"]
        m = lay * n + (1 - lay) * n_head  # tokens through each stage
        t_dig = dg.stage_ns(lay=lay, n=n, m=m, ctx=ctx, lanes=v["lanes"], dig=v["dig"], sfus=v["sfus"],
                            adcs=v["adcs"], pred=pred, t_conv_slc=t_conv_slc)
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
    e_cat: dict[str, Any] = dict.fromkeys(CATEGORIES, 0.0)
    e_role: dict[str, Any] = {}
    for x, tk in zip(st, tokens):
        for k, v in x.e_cat.items():
            e_cat[k] = e_cat[k] + tk * v
        for k, v in x.e_role.items():
            e_role[k] = e_role.get(k, 0.0) + tk * v
    dmacs = sum(tk * s.digital_macs for s, tk in zip(mp.stages, tokens))
    de = dg.energy(dmacs, n_tok, n_layers, ctx_all)
    tok_net = net.energy_pj_per_token()
    e_pred = pred.energy_pj_total(ctx_pre + ctx_gen, n_tok, n_layers, shape.heads, sum(e_conv[True].values()),
                                  spec.comp(a.driver).energy_pj)
    E_cat: dict[str, Any] = {k: v * 1e-12 for k, v in e_cat.items()}
    E_cat["digital_pim"] = (de.matrices + de.kv_write + de.embedding + de.attention + e_pred) * 1e-12
    E_cat["sfu"] = (de.sfu_tokens + de.softmax) * 1e-12
    E_cat["interconnect"] = n_tok * tok_net * 1e-12
    E_role: dict[str, Any] = {k: v * 1e-12 for k, v in e_role.items()}
    E_role["attention"] = (de.attention + de.kv_write) * 1e-12
    if np.any(e_pred):
        E_role["prediction"] = e_pred * 1e-12
    if np.any(de.matrices):
        E_role["digital_matrices"] = de.matrices * 1e-12
    E_role["embedding"] = de.embedding * 1e-12
    E_role["sfu"] = E_cat["sfu"]
    E_role["interconnect"] = E_cat["interconnect"]
    E_inf = sum(E_cat.values())

    dense = sum(tk * s.dense_macs for s, tk in zip(mp.stages, tokens))
    ops = 2.0 * (dense + ctx_all / density * n_layers * 2 * shape.q_dim)  # dense-equivalent work
    T_s = T_total * 1e-9
    area = mp.chips * chip_area_mm2(spec)
    tops = batch * ops / T_s / 1e12
    pu = pu_totals(spec)
    names = [s.key for s in mp.stages]
    bott_i = t_pre.argmax(0)
    return HwResult.of(
        throughput_tok_s=batch * n_tok / T_s,
        tops=tops,
        latency_s=latency * 1e-9,
        energy_per_inference_j=E_inf,
        energy_per_token_j=E_inf / n_tok,
        tops_per_w=ops / E_inf / 1e12,
        tops_per_mm2=tops / area,
        area_mm2=np.full_like(L, area),
        power_w=batch * E_inf / T_s,
        ops_per_inference=ops,
        energy_by_component_j=E_cat,
        energy_by_role_j=E_role,
        bottleneck_stage=[f"{names[i]}: {'digital' if tdig_pre[i, j] > t_pre[i, j] / 2 else 'analog'} "
                          f"{max(tdig_pre[i, j], t_pre[i, j] - tdig_pre[i, j]) / t_pre[i, j]:.0%}"
                          for j, i in enumerate(bott_i)],
        bottleneck_share=t_pre.max(0) / t_pre.sum(0),
        info=PimInfo(
            encoding=spec.analog.encoding, mlc_bits=spec.analog.mlc_bits,
            cells_per_weight_slc=cells_per_weight(spec, True), cells_per_weight_mlc=cells_per_weight(spec, False),
            adc_bits_mlc=a.adc_bits_mlc, adc_exact_bits_mlc=a.exact_adc_bits(False), adc_range=a.adc_range,
            adc_covers_levels_mlc=a.adc_covered_levels(False),
            attention_density=density, prediction=spec.prediction.kind,
            chips=mp.chips, pus_per_layer=mp.pus_per_layer, stages=len(mp.stages),
            head_pus=sum(s.pus for s in mp.stages if not s.is_layer),
            pus_used=sum(s.pus for s in mp.stages), layers_per_chip=mp.layers_per_chip,
            arrays_used=mp.arrays_used, arrays_slc=sum(s.arrays(True) for s in mp.stages),
            arrays_mlc=sum(s.arrays(False) for s in mp.stages),
            array_utilisation=mp.utilisation, array_fill=mp.array_fill,
            fits_one_chip=mp.chips == 1, slc_weight_fraction=mp.slc_weight_fraction,
            excluded_matrices=mp.excluded, batch=batch, gen_tokens=G,
            scaling=mp.scaling, replicas=mp.replicas,
            peak_power_w_per_pu=pu.power_w, area_mm2_per_pu=pu.area_mm2,
            analog_ns_per_token_bottleneck=max(x.thr_ns for x in st),
            digital_room_tokens=room_tokens,
        ),
    )
