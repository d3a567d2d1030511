"""The cost half of the PQ predictor (no torch): a lookup table per token and head, then M adds per entry.

Per entry on the digital PIM: gather the M table entries of the key's codes and add them (M · lut_bits bit steps,
each an add and a write back). Per token and head on the analog array: the query's table and the key's codes, M·K
centroid dot products each (``table_dots``). An attention-only design adds M entries per entry. Resident per key
and head: its codes, M · ceil(log2 K) bits.
"""

from __future__ import annotations

import math
from typing import Any

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.costs_prediction import Predictor, write_ratio
from hyflexpim.methods.predictors.pq.config import PQAttentionConfig


def prediction(cfg: PQAttentionConfig) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``pq`` configuration."""
    return {"kind": "pq", "subspaces": cfg.subspaces, "centroids": cfg.centroids}


def scoring(spec: PimSpec, head_dim: float) -> tuple[float, float]:
    """(lane operations, NOR steps each) per entry: gather M table entries, add them."""
    pr = spec.prediction
    return 1.0, pr.subspaces * pr.lut_bits * (spec.digital.add_per_bit + write_ratio(spec))


PREDICTOR = Predictor(
    scoring,
    table_dots=lambda pr: 2 * pr.subspaces * pr.centroids,  # table (query) + codes (key) per token and head
    adds_per_entry=lambda pr: pr.subspaces,
    code_bits=lambda pr: pr.subspaces * math.ceil(math.log2(max(pr.centroids, 2))))
