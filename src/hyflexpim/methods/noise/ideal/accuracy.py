"""No noise at all: quantization only."""

from __future__ import annotations

from typing import Literal

import torch

from hyflexpim.config import Strict
from hyflexpim.device.noise import NoiseModel
from hyflexpim.device.slicing import Cells


class IdealNoiseConfig(Strict):
    """No noise at all: quantization only."""

    config_name = "hardware.noise (ideal)"
    kind: Literal["ideal"] = "ideal"


class IdealNoise(NoiseModel):
    """No noise at all: quantization only."""

    name = "ideal"

    def is_ideal(self, bits_per_cell: int) -> bool:
        return True

    def program(self, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        return cells.digits


def ideal_noise(config: IdealNoiseConfig | None = None) -> IdealNoise:
    return IdealNoise()


def code_std(noise: NoiseModel, cells: Cells) -> torch.Tensor:
    """Every code is stored exactly: std 0."""
    return torch.zeros(cells.digits.shape[-1])
