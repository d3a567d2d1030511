"""The digital part of the PIM cost: the attention (Q·Kᵀ and score × V on NOR-PIM lanes on the kept share of the
entries), K/V rows written per token, the matrices kept digital, the embedding read and the SFU (softmax,
LayerNorms, GELU/SiLU) (hyflexpim.hw.costs explains the model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.costs_prediction import PredictionCost
from hyflexpim.hw.library import latency_ns
from hyflexpim.plan import Architecture


@dataclass(frozen=True)
class DigitalEnergy:
    """pJ per inference of the digital part, each a per-length vector."""

    matrices: Any  # the plan's matrices kept digital (and a digital head)
    kv_write: Any  # K and V rows written, every token and layer
    embedding: Any  # one embedding row read per token
    sfu_tokens: Any  # LayerNorms and activation, per token
    attention: Any  # Q·Kᵀ and score × V on the kept entries (operands written into the lanes)
    softmax: Any  # on the kept entries


@dataclass(frozen=True)
class DigitalCost:
    """The digital PIM's per-operation constants for one spec and model: NOR step, lane write and SFU time (ns)
    and energy (pJ); NOR steps per attention entry (``s_att``: both MACs and the operand bits written) and per
    INT8 MAC (``s_88``); the kept share of the entries (``density``)."""

    nor_ns: float
    e_nor: float
    wr_ns: float
    e_wr: float
    sfu_ns: float
    e_sfu: float
    copy_bits: int  # operand bits written into a lane per (query, key) MAC pair
    s_att: float
    s_88: float
    mac_steps_att: float  # NOR steps of both attention MACs of an entry
    density: float
    q_dim: int
    hidden: int
    heads: int
    kv_bits: int  # K and V of one token, INT8
    softmax_ops: float
    tok_ops: float  # SFU elements per token and layer: 2 LayerNorms + the activation

    def stage_ns(self, *, lay: Any, n: Any, m: Any, ctx: Any, lanes: Any, dig: Any, sfus: Any, adcs: Any,
                 pred: PredictionCost, t_conv_slc: float) -> Any:
        """Digital time (ns) of each stage for ``n`` tokens (``m`` through the stage) whose attention contexts sum
        to ``ctx``: attention passes over the lanes, the digital matrices, K/V writes, prediction, then the SFU."""
        m_att = ctx * self.q_dim * self.density * lay
        passes = np.ceil(m_att / lanes)
        t_pim = (passes * self.s_att + np.ceil(m * dig / lanes) * self.s_88) * self.nor_ns + lay * n * self.wr_ns
        t_pim = pred.add_time(t_pim, lay=lay, n=n, ctx=ctx, heads=self.heads, lanes=lanes, sfus=sfus, adcs=adcs,
                              nor_ns=self.nor_ns, t_conv_slc=t_conv_slc)
        sfu_el = lay * (self.heads * ctx * self.density * self.softmax_ops + n * self.tok_ops)
        return t_pim + sfu_el * self.sfu_ns / sfus

    def energy(self, digital_mac_tokens: Any, n_tok: Any, n_layers: float, ctx_all: Any) -> DigitalEnergy:
        """pJ per inference: ``digital_mac_tokens`` = the digital MACs of every stage times its tokens; ``ctx_all``
        the kept entries per layer and head."""
        return DigitalEnergy(
            matrices=digital_mac_tokens * self.s_88 * self.e_nor,
            kv_write=n_tok * n_layers * self.kv_bits * self.e_wr,
            embedding=n_tok * self.hidden * 8 * self.e_nor,
            sfu_tokens=n_tok * (n_layers * self.tok_ops * self.e_sfu),
            attention=ctx_all * n_layers * self.q_dim * (self.mac_steps_att * self.e_nor + self.copy_bits * self.e_wr),
            softmax=ctx_all * n_layers * self.heads * self.softmax_ops * self.e_sfu)


def digital_costs(spec: PimSpec, shape: Architecture, attention_keep: float = 1.0) -> DigitalCost:
    d = spec.digital
    nor_ns, e_nor = latency_ns(spec, d.pim), spec.comp(d.pim).energy_pj
    wr_ns, e_wr = spec.comp(d.write).latency_ns or nor_ns, spec.comp(d.write).energy_pj
    sfu_ns, e_sfu = latency_ns(spec, d.sfu), spec.comp(d.sfu).energy_pj
    copy_bits = d.qk_bits[0] + d.sv_bits[0]
    return DigitalCost(
        nor_ns=nor_ns, e_nor=e_nor, wr_ns=wr_ns, e_wr=e_wr, sfu_ns=sfu_ns, e_sfu=e_sfu, copy_bits=copy_bits,
        s_att=d.mac_steps(*d.qk_bits) + d.mac_steps(*d.sv_bits) + copy_bits * wr_ns / nor_ns,
        s_88=d.mac_steps(8, 8), mac_steps_att=d.mac_steps(*d.qk_bits) + d.mac_steps(*d.sv_bits),
        density=d.attention_density * attention_keep, q_dim=shape.q_dim, hidden=shape.hidden, heads=shape.heads,
        kv_bits=2 * shape.kv_dim * 8, softmax_ops=d.softmax_ops,
        tok_ops=2 * shape.hidden * d.layernorm_ops + shape.ffn * d.act_ops)
