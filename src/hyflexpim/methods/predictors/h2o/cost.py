"""The cost half of H2O (no torch): SpAtten's ``accumulated`` prediction, one add per entry into the importance."""

from __future__ import annotations

from typing import Any


def prediction(cfg: Any) -> dict[str, Any]:
    """The chip's ``prediction`` section of an ``h2o`` configuration."""
    return {"kind": "accumulated"}
