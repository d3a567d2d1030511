"""The settings of the ``pq`` kind (no torch: the plan and the chip model validate them too)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import ThresholdAttentionBase


class PQAttentionConfig(ThresholdAttentionBase):
    """Product-quantization relevance prediction (HARDSEA)."""

    config_name = "hardware.attention (pq)"
    kind: Literal["pq"] = "pq"
    subspaces: int = Field(8, ge=1, description="M: sub-spaces of a head's key vector (must divide the head size)")
    centroids: int = Field(16, ge=1, le=65536, description="K: centroids per sub-space")
    predictor_noise: float = Field(0.0, ge=0, description="relative σ of the centroids as stored in analog ReRAM")
    codebooks: str | None = Field(None, description="safetensors file of fitted codebooks (fit_pq_codebooks); "
                                  "a run fits them itself when this is not given")
