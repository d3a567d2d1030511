"""The cost half of Quest (the chip's ``page_bound`` prediction, no torch): per query and page 2 head-size MACs at
``digital.qk_bits`` (the bound against the page's max and min), i.e. 2·head_dim/page per entry, then top-k."""

from __future__ import annotations

from typing import Any

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.costs_prediction import Predictor


def prediction(cfg: Any) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``quest`` configuration."""
    return {"kind": "page_bound", "page": cfg.page}


def scoring(spec: PimSpec, head_dim: float) -> tuple[float, float]:
    """(lane operations per entry, NOR steps each)."""
    return 2 * head_dim / spec.prediction.page, spec.digital.mac_steps(*spec.digital.qk_bits)


PREDICTOR = Predictor(scoring)
