"""Method folders: one registration per method, naming its halves by dotted path (HF peft's shape).

A relevance predictor is one folder ``hyflexpim/methods/predictors/<name>/``:

- ``__init__.py`` holds ``METHOD = PredictorMethod(...)``: the attention kind, the chip's prediction kind, and
  ``module:attribute`` references to its config class, accuracy half, cost half and optional preparation hook;
  it imports nothing but this module (no torch);
- ``accuracy.py`` (torch, the ``sim`` side): the config class and a ``hyflexpim.sim.sparse_attention.Predictor``;
- ``cost.py`` (no torch, the ``hw`` side): a ``hyflexpim.hw.costs_prediction.Predictor``.

``METHOD_PACKAGES`` below is the one registration line per folder. The sides resolve what they need explicitly:
``hyflexpim.sim.attention`` registers the attention kind and the scorer, ``hyflexpim.hw.costs_prediction`` the
cost half, ``chip.spec.Prediction`` checks a prediction kind against ``prediction_kinds()``. The references are
strings, so the cost side never imports the accuracy half (tests/test_layering.py checks each half's imports).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

METHOD_PACKAGES: tuple[str, ...] = (
    "hyflexpim.methods.predictors.sanger",
    "hyflexpim.methods.predictors.cluster",
    "hyflexpim.methods.predictors.pq",
)

# the chip's built-in prediction kinds (priced in hyflexpim.hw.costs_prediction); a method folder adds its own
BUILTIN_PREDICTION_KINDS: tuple[str, ...] = ("none", "exact", "page_bound", "accumulated")


@dataclass(frozen=True)
class PredictorMethod:
    """One relevance predictor. ``kind``: the attention kind (``hardware.attention.kind``); ``prediction_kind``:
    the chip's ``prediction.kind`` that prices it; ``config`` / ``accuracy`` / ``cost`` / ``prepare``:
    ``"module:attribute"`` relative to ``package`` (the folder), resolved on demand by :meth:`load`."""

    kind: str
    prediction_kind: str
    package: str
    config: str
    accuracy: str
    cost: str
    prepare: str | None = None

    def load(self, part: str) -> Any:
        """The object a part names (``config``, ``accuracy``, ``cost`` or ``prepare``; None if not given)."""
        ref = getattr(self, part)
        if ref is None:
            return None
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attr)


@cache
def predictor_methods() -> dict[str, PredictorMethod]:
    """Every registered method folder's ``METHOD``, by attention kind (each folder's ``__init__`` is strings only)."""
    out: dict[str, PredictorMethod] = {}
    for package in METHOD_PACKAGES:
        method = importlib.import_module(package).METHOD
        if not isinstance(method, PredictorMethod) or method.package != package:
            raise TypeError(f"{package}.METHOD must be a PredictorMethod naming package={package!r}")
        out[method.kind] = method
    return out


def prediction_kinds() -> tuple[str, ...]:
    """The chip's prediction kinds: the built-in ones and those of the method folders."""
    return BUILTIN_PREDICTION_KINDS + tuple(m.prediction_kind for m in predictor_methods().values()
                                            if m.prediction_kind not in BUILTIN_PREDICTION_KINDS)
