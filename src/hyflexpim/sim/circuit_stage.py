"""One GEMV of a PIMLinear in the circuit-faithful mode: each SLC/MLC part through the ADC-in-the-loop MVM.

Parts split a matrix along its units: rows (outputs, axis 0) of ΣVᵀ or W, or columns (inputs,
axis 1) of U. Row parts fill their own outputs; column parts see their own inputs and their
partial results are added digitally.
"""

from __future__ import annotations

import torch

from hyflexpim.sim.analog_mvm import PreparedAnalog, analog_matmul_prepared, prepare_analog
from hyflexpim.sim.program import ProgrammedMatrix


def prepare_stage(st: ProgrammedMatrix, values: list[torch.Tensor], cfg) -> list[PreparedAnalog]:
    return [prepare_analog(p.cells, v, cfg) for p, v in zip(st.parts, values)]


def circuit_stage(x: torch.Tensor, st: ProgrammedMatrix, prepared: list[PreparedAnalog],
                  generator: torch.Generator | None) -> torch.Tensor:
    d_out, _ = st.shape
    scale = st.scale.to(torch.float64)
    y = torch.zeros((*x.shape[:-1], d_out), dtype=torch.float64)
    for part, prep in zip(st.parts, prepared):
        if st.axis == 0:
            out = analog_matmul_prepared(x, prep, generator)
            s = scale if scale.dim() == 0 else scale[part.index, 0]
            y[..., part.index] = out.to(torch.float64) * s
        else:
            out = analog_matmul_prepared(x[..., part.index], prep, generator)
            y += out.to(torch.float64) * (scale if scale.dim() == 0 else scale[:, 0])
    return y.to(x.dtype)
