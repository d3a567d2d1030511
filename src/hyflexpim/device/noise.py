"""The noise-model contract and the registry of noise models.

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
loaded, and part of the resolved config and the resume key); ``factory(config) -> NoiseModel``. The built-in
models are method folders (``hyflexpim/methods/noise/``: ``paper`` — the HyFlexPIM paper's multiplicative slice
noise, ``ideal``, ``levels`` — discrete conductance levels), registered from ``hyflexpim.config.methods`` when the
registry is first read; importing this module registers nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from hyflexpim.config import Registry, Strict, config_by_kind
from hyflexpim.config.methods import NoiseMethod, fill_from, noise_methods
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


@dataclass(frozen=True)
class NoiseKind:
    config: type[Strict]
    factory: Callable[[Any], NoiseModel]
    describe: Callable[[Any], str] | None = None  # config -> the model and its main parameters, in words


def _noise_kind(method: NoiseMethod) -> NoiseKind:
    return NoiseKind(method.load("config"), method.load("accuracy"), method.load("describe"))


# the noise model folders (``hyflexpim.config.methods.NOISE_PACKAGES``), at the first read
NOISE_MODELS: Registry[NoiseKind] = Registry("noise kind", fill=fill_from(noise_methods, _noise_kind))


def register_noise_model(kind: str, config_cls: type[Strict], factory: Callable[[Any], NoiseModel],
                         replace: bool = False, describe: Callable[[Any], str] | None = None) -> NoiseKind:
    return NOISE_MODELS.register(kind, NoiseKind(config_cls, factory, describe), replace)



def noise_config(data: dict | Strict) -> Strict:
    """The typed config of a noise model from ``{"kind": ..., **parameters}`` (kind defaults to paper)."""
    return config_by_kind(NOISE_MODELS, data, "hardware.noise", "paper")


def build_noise_model(config: Strict) -> NoiseModel:
    return NOISE_MODELS.get(config.kind, "hardware.noise.kind").factory(config)


def describe_noise(config: Strict) -> str:
    """The noise model of a configuration in words, for a figure's title (its kind's ``describe``, else the kind)."""
    describe = NOISE_MODELS.get(config.kind, "hardware.noise.kind").describe
    return describe(config) if describe is not None else f"{config.kind} noise"


def make_noise_model(kind: str = "paper", **params) -> NoiseModel:
    """Build a registered noise model from its kind and parameters (validated by its config class)."""
    return build_noise_model(noise_config({"kind": kind, **params}))
