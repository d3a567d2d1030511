"""The settings of the ``cluster`` kind (no torch: the plan and the chip model validate them too)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import ThresholdAttentionBase


class ClusterAttentionConfig(ThresholdAttentionBase):
    """Clustered keys scored by their centroid (ClusterKV-style)."""

    config_name = "hardware.attention (cluster)"
    kind: Literal["cluster"] = "cluster"
    clusters: int = Field(16, ge=1, le=65536, description="k-means clusters of each head's keys, per sequence")
    iterations: int = Field(10, ge=1, le=1000, description="Lloyd passes of the k-means")
