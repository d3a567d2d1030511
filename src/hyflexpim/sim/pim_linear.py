"""PIMLinear: a matrix as the PIM chip computes it — one GEMV per stage (ΣVᵀ then U, or W alone).

Static mode (the fast path): programming noise and drift are folded into dense weights once, so a
noisy forward costs what a clean one does. Dynamic mode keeps the cells and, each forward call,
draws fresh read noise and/or runs the circuit-faithful ADC-in-the-loop MVM.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from hyflexpim.device.noise import NoiseModel
from hyflexpim.sim.circuit_stage import circuit_stage, prepare_stage
from hyflexpim.sim.program import ProgrammedMatrix, generator_for


class PIMLinear(nn.Module):
    hyflexpim_kind = "pim"

    def __init__(self, stages: list[ProgrammedMatrix], bias: torch.Tensor | None, shape: tuple[int, int],
                 noise: NoiseModel, dynamic: bool = False, circuit=None, seed: int = 0, name: str = ""):
        super().__init__()
        self.hyflexpim_shape = tuple(shape)
        self.dynamic = dynamic
        self.noise = noise
        self.circuit = circuit  # a CircuitConfig for ADC-in-the-loop MVM, or None
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        if dynamic:
            self.stages = stages
            self._read_gen = generator_for(seed, name, "read")
            self._prepared: dict = {}
            if circuit is not None and not noise.has_read_noise:  # static cells: level matrices built once, now

                self._prepared = {j: prepare_stage(st, [p.values for p in st.parts], circuit)
                                  for j, st in enumerate(stages)}
        else:
            self.stages = None
            for j, st in enumerate(stages):
                self.register_buffer(f"w{j}", st.weight())
            self.n_stages = len(stages)

    def static_weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"w{j}") for j in range(self.n_stages)]

    def _stage(self, x: torch.Tensor, j: int, st: ProgrammedMatrix) -> torch.Tensor:
        values = [p.values for p in st.parts]
        if self.noise.has_read_noise:
            values = [self.noise.read(v, p.cells, self._read_gen) for v, p in zip(values, st.parts)]
        if self.circuit is None:
            return F.linear(x, st.weight(values).to(x.dtype))

        if self.noise.has_read_noise:  # fresh cell values each call: prepare them each call
            prepared = prepare_stage(st, values, self.circuit)
        else:  # static cells: the level matrices are built once
            if j not in self._prepared:
                self._prepared[j] = prepare_stage(st, values, self.circuit)
            prepared = self._prepared[j]
        return circuit_stage(x, st, prepared, self._read_gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dynamic:
            for j, st in enumerate(self.stages):
                x = self._stage(x, j, st)
        else:
            for w in self.static_weights():
                x = F.linear(x, w)
        return x if self.bias is None else x + self.bias

    def extra_repr(self) -> str:
        d_out, d_in = self.hyflexpim_shape
        return f"in_features={d_in}, out_features={d_out}, dynamic={self.dynamic}, circuit={self.circuit is not None}"
