"""The settings of the ``quest`` kind."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import SparseAttentionBase


class QuestAttentionConfig(SparseAttentionBase):
    """Page selection by min/max key bounds (Quest)."""

    config_name = "hardware.attention (quest)"
    kind: Literal["quest"] = "quest"
    page: int = Field(16, ge=1, description="tokens per page")
    dense_layers: int = Field(2, ge=0, description="the first layers are dense (Quest's code: 2)")
