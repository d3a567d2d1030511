"""A drop-in nn.Linear that runs its weight through the circuit-faithful analog MVM (inference only).

Weights are quantized to INT8 per tensor, sliced into cells (default: 2-bit MLC, two's complement, the
authors' choice), optionally programmed through a noise model once, and every forward call goes through
:func:`hyflexpim.sim.analog_mvm.analog_matmul_prepared`. This is the simple one-part (all-MLC or all-SLC)
wrapper used by ``benchmarks/bench_analog_mvm.py``; mixed SLC/MLC placement of SVD components belongs to the
plan-driven PIM layers.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from hyflexpim.device.noise import NoiseModel
from hyflexpim.device.quant import int8_scale, quantize
from hyflexpim.device.slicing import slice_int8
from hyflexpim.errors import UserError
from hyflexpim.sim.analog_mvm import CircuitConfig, analog_matmul_prepared, prepare_analog


class CircuitLinear(nn.Module):
    """y = analog(x · q) · weight_scale + bias, with q the INT8 codes of ``linear.weight`` (per tensor)."""

    def __init__(self, linear: nn.Linear, cfg: CircuitConfig | None = None, bits_per_cell: int = 2,
                 encoding: str = "twos_complement", noise: NoiseModel | None = None,
                 generator: torch.Generator | None = None, clip: str = "max"):
        super().__init__()
        cfg = cfg or CircuitConfig()
        w = linear.weight.detach().float()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_scale", int8_scale(w, per_channel=False, clip=clip))
        cells = slice_int8(quantize(w, self.weight_scale), bits_per_cell, encoding)
        values = noise.program(cells, generator or torch.Generator().manual_seed(0)) if noise else cells.digits
        self.prep = prepare_analog(cells, values, cfg)
        self.generator = generator
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    @property
    def cfg(self) -> CircuitConfig:
        return self.prep.cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            y = analog_matmul_prepared(x.float(), self.prep, self.generator) * self.weight_scale
            if self.bias is not None:
                y = y + self.bias
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        g, s = self.prep.shape[:2]
        return (f"in={self.in_features}, out={self.out_features}, column_sets={g * s}, "
                f"adc_mode={self.cfg.adc_mode}")


def replace_linears(model: nn.Module, cfg: CircuitConfig | None = None,
                    include: Callable[[str, nn.Linear], bool] | None = None, **kw) -> list[str]:
    """Replace the model's nn.Linear modules chosen by ``include(name, module)`` (default: those inside
    ``encoder.layer`` / ``layers`` blocks) with :class:`CircuitLinear`; returns the replaced names."""
    if include is None:
        def include(name, _m):
            return ".layer." in f".{name}" or ".layers." in f".{name}"
    targets = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and include(n, m)]
    if not targets:
        raise UserError("replace_linears: no nn.Linear matched the include filter")
    for name, lin in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, CircuitLinear(lin, cfg, **kw))
    return [n for n, _ in targets]
