"""The settings of the ``window`` kind: the shared sparse ones."""

from __future__ import annotations

from typing import Literal

from hyflexpim.config.attention import SparseAttentionBase


class WindowAttentionConfig(SparseAttentionBase):
    """Local window (encoders) / most recent keys (decoders), plus the first token."""

    config_name = "hardware.attention (window)"
    kind: Literal["window"] = "window"
