"""The cost half of the cluster predictor (no torch): its work scales with the tokens, not the entries.

Per token and head on the digital PIM, at ``digital.qk_bits``: the query scores the ``clusters`` centroids
(C dot products of head_dim MACs), and the token's key is clustered (``kmeans_iterations`` Lloyd passes at the
prompt, C distances each, plus its assignment: (iterations + 1)·C head_dim MACs, charged to every token, an upper
bound for generated tokens, which are only assigned). The top-k engines then select among the C cluster scores of
each (query, head) row, not among its keys; no work per (query, key) entry. Resident per key and head: its
cluster id, ceil(log2 C) bits (the C centroids, C·head_dim·qk_bits per head, are not in the per-key capacity).
"""

from __future__ import annotations

import math
from typing import Any

from hyflexpim.chip.spec import PimSpec, Prediction
from hyflexpim.hw.costs_prediction import Predictor
from hyflexpim.methods.predictors.cluster.config import ClusterAttentionConfig


def prediction(cfg: ClusterAttentionConfig) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``cluster`` configuration."""
    return {"kind": "cluster", "clusters": cfg.clusters, "kmeans_iterations": cfg.iterations}


def per_token(spec: PimSpec, head_dim: float) -> tuple[float, float, float]:
    """(lane operations, NOR steps each, candidates of the top-k) per token and head."""
    pr = spec.prediction
    macs = (pr.kmeans_iterations + 2) * pr.clusters * head_dim  # query scores, k-means passes, assignment
    return macs, spec.digital.mac_steps(*spec.digital.qk_bits), float(pr.clusters)


def code_bits(pr: Prediction) -> int:
    return math.ceil(math.log2(max(pr.clusters, 2)))


PREDICTOR = Predictor(lambda spec, hd: (0.0, 0.0), code_bits=code_bits, entrywise=False, per_token=per_token)
