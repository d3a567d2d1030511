"""The settings of the ``float`` attention kind: none but the kind."""

from __future__ import annotations

from typing import Literal

from hyflexpim.config.attention import AttentionSettings


class FloatAttentionConfig(AttentionSettings):
    """The model's own attention in floating point."""

    config_name = "hardware.attention (float)"
    kind: Literal["float"] = "float"
