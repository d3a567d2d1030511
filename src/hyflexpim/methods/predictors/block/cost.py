"""The cost half of ``block`` (no torch): a page bound per block (``page_bound``, page = block), or the exact
mass (``exact``)."""

from __future__ import annotations

from typing import Any


def prediction(cfg: Any) -> dict[str, Any]:
    """The chip's ``prediction`` section of a ``block`` configuration."""
    if cfg.score == "exact":
        return {"kind": "exact"}
    return {"kind": "page_bound", "page": cfg.block}
