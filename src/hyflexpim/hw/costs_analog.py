"""The analog part of the PIM cost: per stage, the per-token time of its GEMV chain on the crossbar arrays (set by
the MLC throughput mechanism, ``mapping.mlc_throughput``: ``spread``, ``replicate`` or ``none``; ``analog.adc_share``
arrays share one ADC) and its energies by category and by matrix role (hyflexpim.hw.costs explains the model)."""

from __future__ import annotations

from dataclasses import dataclass

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.library import adc_time_ns
from hyflexpim.hw.mapping import Stage

CATEGORIES = ("adc", "arrays", "drivers", "shift_add", "buffers", "digital_pim", "sfu", "interconnect")


@dataclass(frozen=True)
class AnalogCost:
    """The analog part of one stage, per token: time at throughput, one token's chain latency, energies (pJ)."""

    thr_ns: float  # per token with the stage's arrays busy (the mechanism of ``mapping.mlc_throughput``)
    lat_ns: float  # one token through the stage's GEMV chain
    e_cat: dict[str, float]  # by energy category (CATEGORIES)
    e_role: dict[str, float]  # by matrix role



def stage_analog(st: Stage, spec: PimSpec, per_pu: int, e_conv: dict[bool, dict[str, float]]) -> AnalogCost:
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
