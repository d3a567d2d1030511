"""The cost half of the oracle (the chip's ``exact`` prediction, no torch): per entry a head_dim-long Q·Kᵀ at
``digital.qk_bits`` on the digital PIM, then top-k over the entries. Block selection by exact mass
(``block`` with ``score: exact``) is priced the same way."""

from __future__ import annotations

from typing import Any

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.costs_prediction import Predictor


def prediction(cfg: Any) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``topk`` configuration."""
    return {"kind": "exact"}


def scoring(spec: PimSpec, head_dim: float) -> tuple[float, float]:
    """(lane operations per entry, NOR steps each): head_dim MACs at qk_bits."""
    return head_dim, spec.digital.mac_steps(*spec.digital.qk_bits)


PREDICTOR = Predictor(scoring)
