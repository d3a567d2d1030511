"""The settings of the ``h2o`` kind."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import SparseAttentionBase


class H2OAttentionConfig(SparseAttentionBase):
    """Heavy hitters + recent keys (H2O)."""

    config_name = "hardware.attention (h2o)"
    kind: Literal["h2o"] = "h2o"
    recent: float = Field(0.5, ge=0, le=1, description="share of the budget given to the nearest / most recent keys")
