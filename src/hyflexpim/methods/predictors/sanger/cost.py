"""The cost half of Sanger (the chip's ``low_bit`` prediction, no torch): per (query, key) entry a head_dim-long
dot product at ``prediction.bits`` on the digital PIM, then top-k over the entries."""

from __future__ import annotations

from typing import Any

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.costs_prediction import Predictor
from hyflexpim.methods.predictors.sanger.config import SangerAttentionConfig


def prediction(cfg: SangerAttentionConfig) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``sanger`` configuration."""
    return {"kind": "low_bit", "bits": cfg.bits}


def scoring(spec: PimSpec, head_dim: float) -> tuple[float, float]:
    """(lane operations per entry, NOR steps each): head_dim MACs of bits x bits."""
    return head_dim, spec.digital.mac_steps(spec.prediction.bits, spec.prediction.bits)


PREDICTOR = Predictor(scoring)
