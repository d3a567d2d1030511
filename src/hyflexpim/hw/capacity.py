"""Room in the digital PIM of a layer stage for what attention keeps resident, checked against L and batch.

A layer's stage holds in its NOR-PIM lanes (``p`` PUs x ``pu.digital_modules`` x ``digital.arrays`` arrays of
``digital.rows`` lanes x ``digital.cols`` cells), less ``digital.scratch_cols`` columns of every lane kept free
for computing:

* K and V of every token of every resident sequence, INT8 (2 x kv_dim x 8 bits per token);
* the scores of one query row of every head per resident sequence, at the probability width
  (``digital.sv_bits[0]``): softmax normalises a whole row before score x V;
* what the predictor keeps per key (``costs_prediction.Predictor.code_bits``; PQ: M x ceil(log2 K) bits per head).

Resident sequences: one for an encoder or a prefill (a stage works on one sequence at a time; the pipeline's
other sequences sit in other stages), ``batch`` during decoder generation (every step touches every sequence's
cache). Past the room the command refuses in one line naming the limit (no spilling to off-chip memory is
modelled: HyFlexPIM has none in the reference).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hyflexpim.chip.spec import PimSpec
from hyflexpim.errors import UserError
from hyflexpim.hw.costs_prediction import predictor
from hyflexpim.plan import Architecture


def stage_bits(spec: PimSpec, pus: int) -> int:
    """Cells of a stage's digital PIM free for resident data (the scratch columns of every lane left out)."""
    d = spec.digital
    return pus * spec.pu.digital_modules * d.arrays * d.rows * (d.cols - d.scratch_cols)


def bits_per_token(spec: PimSpec, shape: Architecture) -> float:
    """Resident bits per token of one sequence in one layer: K, V, one score per head, the predictor's codes."""
    pr = spec.prediction
    codes = shape.heads * predictor(pr).code_bits(pr)  # what the predictor keeps per key (PQ: its codes)
    return 2 * shape.kv_dim * 8 + shape.heads * spec.digital.sv_bits[0] + codes


def resident_sequences(shape: Architecture, batch: int, gen_tokens: int) -> int:
    return batch if shape.decoder and gen_tokens else 1


def max_tokens(spec: PimSpec, shape: Architecture, pus: int, batch: int, gen_tokens: int) -> int:
    """Longest context (prompt + generated tokens) whose resident data fits a stage of ``pus`` PUs."""
    per = bits_per_token(spec, shape) * resident_sequences(shape, batch, gen_tokens)
    return int(stage_bits(spec, pus) // per)


def check_digital_capacity(spec: PimSpec, shape: Architecture, layer_pus: int, seq_lens: Any, batch: int,
                           gen_tokens: int) -> int:
    """Raise ``UserError`` when a sequence length does not fit the digital PIM of the smallest layer stage
    (``layer_pus`` PUs); return the longest context that fits."""
    G = gen_tokens if shape.decoder else 0
    most = max_tokens(spec, shape, layer_pus, batch, gen_tokens)
    L = np.asarray(seq_lens, dtype=float)
    over = most < L + G
    if np.any(over):
        bad = int(L[over][0])
        n = resident_sequences(shape, batch, gen_tokens)
        d = spec.digital
        need = (bad + G) * n * bits_per_token(spec, shape)
        raise UserError(
            f"sequence length {bad:,}{f' + {G} generated' if G else ''}: a layer's K, V and scores "
            f"({n} sequence{'s' if n > 1 else ''} resident) need {need / 8 / 2**20:,.0f} MiB but its digital PIM "
            f"holds {stage_bits(spec, layer_pus) / 8 / 2**20:,.0f} MiB ({layer_pus} PU x {spec.pu.digital_modules} "
            f"modules x {d.arrays} NOR-PIM arrays of {d.rows}x{d.cols}, {d.scratch_cols} columns per lane kept "
            f"for computing): the longest context that fits is {most - G:,} tokens; spilling to off-chip memory is "
            "not modelled")
    return most - G
