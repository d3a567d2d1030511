"""The settings of the ``spatten`` kind."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import SparseAttentionBase


class SpAttenAttentionConfig(SparseAttentionBase):
    """Cascade token pruning by accumulated attention (SpAtten)."""

    config_name = "hardware.attention (spatten)"
    kind: Literal["spatten"] = "spatten"
    dense_layers: int = Field(1, ge=1, description="the first layers are dense: they give the first importance")
