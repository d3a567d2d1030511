"""Noise-aware redistribution (hardware-aware fine-tuning): during the fine-tune, every decomposed matrix's
forward pass sees the target hardware's perturbation, drawn afresh each step.

For each ``SVDLinear`` the two factors ΣVᵀ and U are programmed exactly as ``apply_plan`` programs them (INT8,
bit slicing by the run's encoding, SLC components in 1-bit cells, the rest in MLC cells, the run's noise model
and drift), and the difference to the clean factors is added as a constant: the forward sees the programmed
weights, the backward is the identity through the rounding, slicing and noise (straight-through). Which
components are SLC is re-derived every ``replan_every`` steps from the running importance — a decayed mean of
|∂L/∂σ| of the fine-tune's own batches — at the rate ``slc_rate`` per matrix (the ``uniform`` plan policy's
rule). Read noise (per MVM) is not drawn during training; programming noise and drift are.

    with noise_aware(model, hardware, NoiseAwareConfig(enabled=True), seed=0) as h:
        finetune(model, batches, cfg, on_step=h.step)
"""

from __future__ import annotations

import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from hyflexpim.config import Strict
from hyflexpim.device.noise import build_noise_model
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear
from hyflexpim.sim.config import HardwareConfig


class NoiseAwareConfig(Strict):
    """``redistribute_noise``: noise-aware redistribution (off by default: the paper's plain fine-tune)."""

    config_name = "noise_aware"
    enabled: bool = Field(False, description="the fine-tune's forward sees the hardware's programming noise")
    slc_rate: float = Field(10.0, ge=0, le=100, description="% of each matrix's components kept clean-ish in SLC")
    replan_every: int = Field(8, ge=1, description="steps between re-deriving the SLC sets from the importance")
    decay: float = Field(0.9, ge=0, lt=1, description="decay of the running mean of |dL/dσ| per step")


@dataclass
class NoiseAware:
    """The handle: ``step`` is the fine-tune's step callback; ``slc`` the current SLC sets per matrix."""

    config: NoiseAwareConfig
    layers: dict[str, SVDLinear]
    importance: dict[str, torch.Tensor]
    slc: dict[str, list[int]] = field(default_factory=dict)
    steps: int = 0
    draws: int = 0

    def replan(self) -> None:
        for name, score in self.importance.items():
            n = round(self.config.slc_rate / 100 * score.numel())
            self.slc[name] = sorted(torch.argsort(score, descending=True)[:n].tolist())

    def step(self, step: int, total: int) -> None:
        if self.steps and self.steps % self.config.replan_every == 0:
            self.replan()
        self.steps += 1


def _noisy_forward(handle: NoiseAware, name: str, noise, hardware: HardwareConfig, seed: int):
    from hyflexpim.sim.apply import _stages

    def forward(self: SVDLinear, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(F.linear(x, self.Vh) * self.S, self.U, self.bias)
        svh = self.S[:, None] * self.Vh
        with torch.no_grad():
            entry = SimpleNamespace(unit="component", rank=self.rank, slc=handle.slc[name], name=name)
            first, second = _stages(self, entry, noise, hardware, seed * 1_000_003 + handle.steps)[0]
            d_svh = first.weight().to(svh.dtype) - svh
            d_u = second.weight().to(self.U.dtype) - self.U
        handle.draws += 1
        return F.linear(F.linear(x, svh + d_svh), self.U + d_u, self.bias)

    return forward


@contextmanager
def noise_aware(model: nn.Module, hardware: HardwareConfig, config: NoiseAwareConfig, seed: int = 0):
    """Make every ``SVDLinear`` of ``model`` see the hardware's perturbation while training (restored on exit)."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, SVDLinear)}
    if not layers:
        raise UserError("noise-aware redistribution needs a decomposed model")
    noise = build_noise_model(hardware.noise)
    handle = NoiseAware(config, layers, {n: m.S.detach().abs().double().clone() for n, m in layers.items()})
    handle.replan()  # before any gradient: σ order
    for imp in handle.importance.values():
        imp.zero_()  # from here on the running mean of |dL/dσ|
    hooks = []

    def accumulate(name):
        def fn(grad):
            imp = handle.importance[name]
            imp.mul_(config.decay).add_(grad.detach().abs().double(), alpha=1 - config.decay)
        return fn

    for name, m in layers.items():
        hooks.append(m.S.register_hook(accumulate(name)))
        m.forward = types.MethodType(_noisy_forward(handle, name, noise, hardware, seed), m)
    try:
        yield handle
    finally:
        for h in hooks:
            h.remove()
        for m in layers.values():
            del m.forward  # back to the class's forward


__all__ = ["NoiseAware", "NoiseAwareConfig", "noise_aware"]
