"""The noise-model contract and the paper's multiplicative slice noise.

A noise model is a small class with three methods, in the spirit of aihwkit's noise models:

- ``program(cells, generator)``  -> digit values as stored, once per programming (noise seed).
  Called once; the simulator folds the result into static weights, so a noisy evaluation costs
  the same as a clean one.
- ``drift(values, cells, t_seconds, generator)`` -> digit values after ``t_seconds`` since
  programming. Default: unchanged.
- ``read(values, cells, generator)`` -> digit values seen by one inference (fresh draw each
  forward call). Default: unchanged; ``has_read_noise`` tells the simulator whether to call it.

``cells.bits_per_cell`` says whether the cells are SLC (1) or MLC (2..4), so one model instance
serves the SLC and MLC parts of the same matrix. All draws use the generator passed in.

Registry: ``register_noise_model(kind, config_cls, factory)``; ``config_cls`` is a ``Strict`` pydantic
class with ``kind: Literal["<kind>"]`` and the model's parameters (validated when a run's config is
loaded, and part of the resolved config and the resume key); ``factory(config) -> NoiseModel``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field

from hyflexpim.config import Registry, Strict, config_by_kind
from hyflexpim.device.slicing import Cells


class NoiseModel(ABC):
    name: str = "base"
    has_read_noise: bool = False

    @abstractmethod
    def program(self, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        """Digit values as programmed (same shape as ``cells.digits``)."""

    def drift(self, values: torch.Tensor, cells: Cells, t_seconds: float,
              generator: torch.Generator) -> torch.Tensor:
        return values

    def read(self, values: torch.Tensor, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        return values

    def is_ideal(self, bits_per_cell: int) -> bool:
        """True if cells of this width are stored exactly (no draw at all): lets a simulator skip seeds."""
        return False


def gaussian_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


class PaperNoiseConfig(Strict):
    """The HyFlexPIM paper's noise: each slice multiplied by (1 + σ·N(0,1))."""

    config_name = "hardware.noise (paper)"
    kind: Literal["paper"] = "paper"
    sigma_mlc: float = Field(0.025, ge=0, description="relative σ of an MLC slice")
    sigma_slc: float = Field(0.0, ge=0, description="relative σ of an SLC slice (0 = ideal, the paper's)")


class PaperNoise(NoiseModel):
    name = "paper"

    def __init__(self, config: PaperNoiseConfig | None = None, **kw):
        self.config = config or PaperNoiseConfig(**kw)

    def is_ideal(self, bits_per_cell: int) -> bool:
        return (self.config.sigma_slc if bits_per_cell == 1 else self.config.sigma_mlc) == 0

    def program(self, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        sigma = self.config.sigma_slc if cells.bits_per_cell == 1 else self.config.sigma_mlc
        if sigma == 0:
            return cells.digits
        return cells.digits * (1 + sigma * gaussian_like(cells.digits, generator))


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


@dataclass(frozen=True)
class NoiseKind:
    config: type[Strict]
    factory: Callable[[Any], NoiseModel]


NOISE_MODELS: Registry[NoiseKind] = Registry("noise kind")


def register_noise_model(kind: str, config_cls: type[Strict], factory: Callable[[Any], NoiseModel],
                         replace: bool = False) -> NoiseKind:
    return NOISE_MODELS.register(kind, NoiseKind(config_cls, factory), replace)


register_noise_model("paper", PaperNoiseConfig, PaperNoise)
register_noise_model("ideal", IdealNoiseConfig, lambda config=None: IdealNoise())


def noise_config(data: dict | Strict) -> Strict:
    """The typed config of a noise model from ``{"kind": ..., **parameters}`` (kind defaults to paper)."""
    return config_by_kind(NOISE_MODELS, data, "hardware.noise", "paper")


def build_noise_model(config: Strict) -> NoiseModel:
    return NOISE_MODELS.get(config.kind, "hardware.noise.kind").factory(config)


def make_noise_model(kind: str = "paper", **params) -> NoiseModel:
    """Build a registered noise model from its kind and parameters (validated by its config class)."""
    return build_noise_model(noise_config({"kind": kind, **params}))
