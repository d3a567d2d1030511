"""The settings of the ``topk`` (oracle) kind: the shared sparse ones."""

from __future__ import annotations

from typing import Literal

from hyflexpim.config.attention import ThresholdAttentionBase


class TopKAttentionConfig(ThresholdAttentionBase):
    """Oracle top-k: the exact scores choose the keys."""

    config_name = "hardware.attention (topk)"
    kind: Literal["topk"] = "topk"
