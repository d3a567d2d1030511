"""The cost half of SpAtten (the chip's ``accumulated`` prediction, no torch): one ``digital.sv_bits[0]``-bit add
per entry into the token importance, then top-k. H2O's heavy hitters are priced the same way."""

from __future__ import annotations

from typing import Any

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.costs_prediction import Predictor


def prediction(cfg: Any) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``spatten`` configuration."""
    return {"kind": "accumulated"}


def scoring(spec: PimSpec, head_dim: float) -> tuple[float, float]:
    """(lane operations per entry, NOR steps each): one add of the probability's width."""
    return 1.0, spec.digital.add_per_bit * spec.digital.sv_bits[0]


PREDICTOR = Predictor(scoring)
