"""The settings of the ``sanger`` kind (no torch: the plan and the chip model validate them too)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hyflexpim.config.attention import ThresholdAttentionBase


class SangerAttentionConfig(ThresholdAttentionBase):
    """Low-bit Q·Kᵀ estimate (Sanger)."""

    config_name = "hardware.attention (sanger)"
    kind: Literal["sanger"] = "sanger"
    bits: int = Field(4, ge=1, le=16, description="bits of Q and K in the estimate (Sanger: 4)")
