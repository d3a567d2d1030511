"""Noise-aware redistribution (hardware-aware fine-tuning): during the fine-tune, every decomposed matrix's
forward pass sees the target hardware's perturbation, drawn afresh each step.

For each ``SVDLinear`` the two factors ΣVᵀ and U are programmed exactly as ``apply_plan`` programs them (INT8,
bit slicing by the run's encoding, SLC components in 1-bit cells, the rest in MLC cells, the run's noise model
and drift), and the difference to the clean factors is added as a constant: the forward sees the programmed
weights, the backward is the identity through the rounding, slicing and noise (straight-through). Which
components are SLC is re-derived every ``replan_every`` steps from the running importance — a decayed mean of
|∂L/∂σ| of the fine-tune's own batches — at the rate ``slc_rate`` per matrix (the ``uniform`` plan policy's
rule). Read noise (per MVM) is not drawn during training; programming noise and drift are.

Cost. A noise kind registered in ``CODE_NOISE`` (``paper``, ``ideal``) is drawn in weight space: its programmed
code is q + std(q)·N(0, 1) with std(q) from a table of the 256 INT8 codes made once — for the paper's noise this
is the same distribution as programming every cell (each digit d·(1 + σn), the code linear in the digits, so the
code's noise is Gaussian with variance σ²·Σ (place·d)²; tested against ``program_matrix`` over many draws), but one
draw per weight instead of one per cell, one ``randn`` per layer and step into a buffer kept between steps, and
no slicing. Other kinds (``levels``, anything with drift) are programmed exactly as ``program_matrix`` does (the
same codes and draws, tested equal), with every code's cells looked up in a table made once.

    with noise_aware(model, hardware, NoiseAwareConfig(enabled=True), seed=0) as h:
        finetune(model, batches, cfg, on_step=h.step)
"""

from __future__ import annotations

import types
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from hyflexpim.config import Registry, Strict
from hyflexpim.config.methods import fill_from, noise_methods
from hyflexpim.device.noise import NoiseModel, build_noise_model
from hyflexpim.device.quant import int8_scale, quantize, round_clip
from hyflexpim.device.slicing import Cells, slice_int8
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.program import generator_for


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


class _LookedUp(Cells):
    """Cells whose digits (and, on first use, levels) are looked up per INT8 code in a table of all codes."""

    def __init__(self, table: Cells, digits: torch.Tensor, levels: torch.Tensor, index: torch.Tensor):
        self.bits_per_cell, self.group_sign, self.offset, self.encoding = (table.bits_per_cell, table.group_sign,
                                                                           table.offset, table.encoding)
        self._levels, self._index = levels, index
        self.digits = self._look_up(digits)

    def _look_up(self, table: torch.Tensor) -> torch.Tensor:
        return table[:, :, self._index]  # [G, n, 256] -> [G, n, *shape], contiguous: sums as slice_int8's do

    @property
    def levels(self) -> torch.Tensor:
        if not isinstance(self._levels, tuple):
            self._levels = (self._look_up(self._levels),)
        return self._levels[0]


class _Programmer:
    """Program a factor exactly as ``program_matrix`` does (same INT8 codes, same cells, the same draws from the
    same generators, drift included) without re-slicing it: the cells of an INT8 code depend on the code alone,
    so every code's cells are looked up in a table made once (-128..127), and a part whose cells are stored
    exactly (``noise.is_ideal``, no drift: the paper's SLC) keeps its codes without any draw."""

    def __init__(self, noise, hardware: HardwareConfig):
        self.noise, self.hw, self.tables = noise, hardware, {}

    def _table(self, bits: int):
        if bits not in self.tables:
            t = slice_int8(torch.arange(-128, 128), bits, self.hw.encoding)
            self.tables[bits] = (t, t.digits, t.levels)
        return self.tables[bits]

    def cells(self, q: torch.Tensor, bits: int) -> Cells:
        """The cells of INT8 codes ``q`` (equal to ``slice_int8(q, bits, encoding)``; levels looked up when used)."""
        t, digits, levels = self._table(bits)
        return _LookedUp(t, digits, levels, (q + 128).long())

    def weight(self, w: torch.Tensor, slc: list[int], axis: int, seed: int, name: str) -> torch.Tensor:
        """``program_matrix(w, slc, axis, ...).weight()``."""
        hw, noise = self.hw, self.noise
        w = w.detach().float()
        scale = int8_scale(w, per_channel=hw.per_channel, clip=hw.clip)
        q = quantize(w, scale)
        codes = q.to(scale.dtype)
        is_slc = torch.zeros(w.shape[axis], dtype=torch.bool)
        if slc:
            is_slc[torch.tensor(slc, dtype=torch.long)] = True
        for label, mask, bits in (("slc", is_slc, 1), ("mlc", ~is_slc, hw.mlc_bits)):
            index = mask.nonzero().flatten()
            if index.numel() == 0 or (noise.is_ideal(bits) and hw.t_seconds is None):
                continue  # stored exactly: the codes as they are
            cells = self.cells(q.index_select(axis, index), bits)
            gen = generator_for(seed, name, label)
            values = noise.program(cells, gen)
            if hw.t_seconds is not None:
                values = noise.drift(values, cells, hw.t_seconds, gen)
            codes.index_copy_(axis, index, cells.reconstruct(values).to(codes.dtype))
        return codes * scale


# noise kind -> (model, cells of the 256 codes -128..127) -> std of the programmed code per code: kinds whose
# programming noise is Gaussian in the code (and that have no drift) are drawn once per weight
# (a noise model folder's optional ``code_std``, hyflexpim.config.methods.NoiseMethod; filled at the first read)
CODE_NOISE: Registry[Callable[[NoiseModel, Cells], torch.Tensor]] = Registry(
    "noise kind drawn per code", fill=fill_from(noise_methods, lambda m: m.load("code_std")))


class _PerCode:
    """Program a factor with one Gaussian draw per weight, std from a per-code table (``CODE_NOISE``)."""

    def __init__(self, noise: NoiseModel, hardware: HardwareConfig, std_of: Callable):
        self.hw = hardware
        codes = torch.arange(-128, 128)
        self.std = {bits: std_of(noise, slice_int8(codes, bits, hardware.encoding)).float()
                    for bits in {1, hardware.mlc_bits}}

    def delta(self, w: torch.Tensor, slc: list[int], axis: int, draw: torch.Tensor) -> torch.Tensor:
        """programmed − clean for the factor ``w``, the programmed code q + std(q)·``draw`` (``draw``: N(0, 1)
        of w's shape)."""
        w = w.detach().float()
        scale = int8_scale(w, per_channel=self.hw.per_channel, clip=self.hw.clip)
        q = round_clip(w, scale, 8)
        index = q.to(torch.int64).add_(128)
        std = self.std[self.hw.mlc_bits][index]
        if slc:
            rows = torch.tensor(slc, dtype=torch.long)
            std.index_copy_(axis, rows, self.std[1][index.index_select(axis, rows)])
        return std.mul_(draw).add_(q).mul_(scale).sub_(w)


def _noisy_forward(handle: NoiseAware, name: str, program: Callable, seed: int):
    cache: dict = {}

    def forward(self: SVDLinear, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(F.linear(x, self.Vh) * self.S, self.U, self.bias)
        svh = self.S[:, None] * self.Vh
        key = (handle.steps, self.S._version, self.Vh._version, self.U._version)
        if cache.get("key") != key:  # programmed once per step (and again if the factors changed)
            with torch.no_grad():
                cache["d"] = program(cache, svh.detach(), self.U.detach(), handle.slc[name],
                                     seed * 1_000_003 + handle.steps, name)
                cache["key"] = key
            handle.draws += 1
        d_svh, d_u = cache["d"]
        return F.linear(F.linear(x, svh + d_svh), self.U + d_u, self.bias)

    return forward


def _programmer(noise: NoiseModel, hardware: HardwareConfig) -> Callable:
    """(cache, ΣVᵀ, U, slc, seed, name) -> (δ ΣVᵀ, δ U): per code where the kind allows it, else cell by cell."""
    no_drift = hardware.t_seconds is None or type(noise).drift is NoiseModel.drift
    if hardware.noise.kind in CODE_NOISE and no_drift:
        per_code = _PerCode(noise, hardware, CODE_NOISE.get(hardware.noise.kind))

        def program(cache, svh, u, slc, seed, name):
            n = svh.numel() + u.numel()
            if cache.get("draw") is None or cache["draw"].numel() != n:
                cache["draw"] = torch.empty(n)
            draw = torch.randn(n, generator=generator_for(seed, name), out=cache["draw"])  # one call, both
            return (per_code.delta(svh, slc, 0, draw[:svh.numel()].view_as(svh)),
                    per_code.delta(u, slc, 1, draw[svh.numel():].view_as(u)))
        return program
    cells = _Programmer(noise, hardware)

    def program_cells(cache, svh, u, slc, seed, name):
        return (cells.weight(svh, slc, 0, seed, name + ":SVh") - svh, cells.weight(u, slc, 1, seed, name + ":U") - u)
    return program_cells


@contextmanager
def noise_aware(model: nn.Module, hardware: HardwareConfig, config: NoiseAwareConfig, seed: int = 0):
    """Make every ``SVDLinear`` of ``model`` see the hardware's perturbation while training (restored on exit)."""
    hardware = hardware.resolved()
    layers = {n: m for n, m in model.named_modules() if isinstance(m, SVDLinear)}
    if not layers:
        raise UserError("noise-aware redistribution needs a decomposed model")
    program = _programmer(build_noise_model(hardware.noise), hardware)
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
        m.forward = types.MethodType(_noisy_forward(handle, name, program, seed), m)
    try:
        yield handle
    finally:
        for h in hooks:
            h.remove()
        for m in layers.values():
            del m.forward  # back to the class's forward


__all__ = ["CODE_NOISE", "NoiseAware", "NoiseAwareConfig", "noise_aware"]
