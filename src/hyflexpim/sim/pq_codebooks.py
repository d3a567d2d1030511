"""Re-export: the PQ codebooks (``fit_pq_codebooks``, ``save_codebooks``, ``load_codebooks``) live in the PQ method
folder, ``hyflexpim.methods.predictors.pq.codebooks``; this old import path keeps working."""

from __future__ import annotations

import importlib

_NAMES = ("fit_pq_codebooks", "save_codebooks", "load_codebooks")


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module("hyflexpim.methods.predictors.pq.codebooks"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_NAMES)
