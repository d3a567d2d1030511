"""The cost half of the window (no torch): a fixed pattern, nothing predicted or selected (``none``)."""

from __future__ import annotations

from typing import Any


def prediction(cfg: Any) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``window`` configuration."""
    return {"kind": "none"}
