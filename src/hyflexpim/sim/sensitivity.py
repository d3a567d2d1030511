"""A cheap per-matrix noise-sensitivity probe: how much the loss grows when one matrix alone is all-MLC.

For every analog matrix (the keys of an importance score: SVD components or rows), its factors are programmed
exactly as ``apply_plan`` programs them with no unit in SLC (INT8, the run's encoding and noise model), every
other matrix stays float, and the mean training loss over ``batches`` × ``draws`` noise draws is compared with the
clean loss. The increase is the matrix's sensitivity: what one matrix's MLC noise costs the model. The plan policy
``sensitivity`` (``algo.plan_policy``) spends the SLC budget where sensitivity × importance share per weight is
largest. Cost: (matrices × draws + 1) × batches forward passes, no backward (MiniLM-L6, 4 batches, 2 draws:
about 300 forwards).
"""

from __future__ import annotations

import types
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from hyflexpim.errors import NumericalError
from hyflexpim.sim.apply import _stages, build_noise
from hyflexpim.sim.config import HardwareConfig

FLOOR = 1e-6  # a matrix whose noise does not raise the loss (within the probe's own noise) still gets a share


def _mean_loss(model: nn.Module, batches: list[dict]) -> float:
    total = 0.0
    for b in batches:
        loss = model(**b).loss
        if not torch.isfinite(loss):
            raise NumericalError("NaN/inf loss in step 'sensitivity'")
        total += loss.item()
    return total / len(batches)


def _programmed_forward(weights, bias):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for w in weights[:-1]:
            x = F.linear(x, w)
        return F.linear(x, weights[-1], bias)

    return forward


@torch.inference_mode()
def noise_sensitivity(model: nn.Module, batches, names: list[str], unit: str, hardware: HardwareConfig,
                      n_batches: int = 4, draws: int = 2, seed: int = 0, progress: bool = False) -> dict[str, float]:
    """Loss increase (≥ ``FLOOR``) per matrix in ``names`` when that matrix alone is programmed with no SLC unit."""
    hardware = hardware.resolved()
    noise = build_noise(hardware)
    data = []
    for b in batches:
        data.append(b)
        if len(data) >= n_batches:
            break
    was = model.training
    model.eval()
    try:
        clean = _mean_loss(model, data)
        out = {}
        for name in tqdm(names, desc="sensitivity", disable=not progress, leave=False):
            module = model.get_submodule(name)
            rank = module.rank if unit == "component" else None
            entry = SimpleNamespace(unit=unit, rank=rank, slc=[], name=name)
            losses = []
            for d in range(draws):
                stages, bias = _stages(module, entry, noise, hardware, seed * 1_000_003 + d)
                module.forward = types.MethodType(_programmed_forward([s.weight().float() for s in stages], bias),
                                                  module)
                try:
                    losses.append(_mean_loss(model, data))
                finally:
                    del module.forward
            out[name] = max(sum(losses) / len(losses) - clean, FLOOR)
        return out
    finally:
        model.train(was)
