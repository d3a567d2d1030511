"""The HyFlexPIM paper's noise: each slice multiplied by (1 + σ·N(0,1))."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from hyflexpim.config import Strict
from hyflexpim.device.noise import NoiseModel, gaussian_like
from hyflexpim.device.slicing import Cells


class PaperNoiseConfig(Strict):
    """The HyFlexPIM paper's noise: each slice multiplied by (1 + σ·N(0,1))."""

    config_name = "hardware.noise (paper)"
    kind: Literal["paper"] = "paper"
    sigma_mlc: float = Field(0.025, ge=0, description="relative σ of an MLC slice")
    sigma_slc: float = Field(0.0, ge=0, description="relative σ of an SLC slice (0 = ideal, the paper's)")


class PaperNoise(NoiseModel):
    name = "paper"

    def __init__(self, config: PaperNoiseConfig | None = None, **kw: Any):
        self.config = config or PaperNoiseConfig(**kw)

    def is_ideal(self, bits_per_cell: int) -> bool:
        return (self.config.sigma_slc if bits_per_cell == 1 else self.config.sigma_mlc) == 0

    def program(self, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        sigma = self.config.sigma_slc if cells.bits_per_cell == 1 else self.config.sigma_mlc
        if sigma == 0:
            return cells.digits
        return cells.digits * (1 + sigma * gaussian_like(cells.digits, generator))


def code_std(noise: PaperNoise, cells: Cells) -> torch.Tensor:
    """The paper's noise per code: every digit d becomes d·(1 + σn) and the code is Σ sign·place·d, so the
    programmed code is Gaussian around q with std σ·sqrt(Σ (sign·place·d)²) over the code's cells."""
    sigma = noise.config.sigma_slc if cells.bits_per_cell == 1 else noise.config.sigma_mlc
    d = cells.digits * cells.place.reshape(1, -1, 1) * cells.group_sign.to(cells.digits.dtype).reshape(-1, 1, 1)
    return sigma * d.pow(2).sum((0, 1)).sqrt()


def describe(config: PaperNoiseConfig) -> str:
    return f"paper noise σ_MLC={config.sigma_mlc:g}" + (f", σ_SLC={config.sigma_slc:g}" if config.sigma_slc else "")
