"""The accuracy half of the ``digital`` kind: every attention of the model on the digital-PIM datapath."""

from __future__ import annotations

from typing import Any

from hyflexpim.config.attention import DigitalAttentionConfig
from hyflexpim.sim.digital_attention import DigitalAttentionHandle, enable_digital_attention


def enable(model: Any, cfg: DigitalAttentionConfig) -> DigitalAttentionHandle:
    """Switch ``model``'s attention to the digital datapath of ``cfg`` (a handle that restores it)."""
    return enable_digital_attention(model, cfg)
