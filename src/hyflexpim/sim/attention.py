"""Attention kinds: how a PIM twin computes attention. A registry filled from the method folders.

Every attention kind is a method folder (hyflexpim.config.methods: ``float`` and ``digital`` in
hyflexpim/methods/attention/, the sparse kinds ``topk``, ``window``, ``block``, ``spatten``, ``quest``, ``h2o``,
``sanger``, ``cluster``, ``pq`` in hyflexpim/methods/predictors/). :func:`register_methods` is the one explicit
registration: it puts each folder's typed settings (``config.py``) in ``ATTENTION_KINDS`` with how to switch a model
to it (``enable``: a dense kind's accuracy half; every sparse kind through ``enable_sparse_attention``), and each
sparse folder's scorer (``accuracy.py``) in ``hyflexpim.sim.sparse_attention.PREDICTORS``. Importing a module
registers nothing; the look-ups below (``attention_config``, ``predictor_of``) call it before their first use.

An entry's ``from_chip(config, spec)`` fills the settings the chip spec fixes (precisions) that the user did not
set; ``to_chip(config)`` is the spec overrides those settings imply, so the cost side prices the same datapath
(both the settings' own methods, hyflexpim.config.attention).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hyflexpim.config import Registry, Strict, config_by_kind
from hyflexpim.config.attention import AttentionSettings
from hyflexpim.config.methods import attention_methods
from hyflexpim.plan import AttentionPlan
from hyflexpim.sim.sparse_attention import PREDICTORS, enable_sparse_attention


def _from_chip(config: Any, spec: Any) -> Any:
    return config.from_chip(spec)


def _to_chip(config: Any) -> dict:
    return config.to_chip()


@dataclass(frozen=True)
class AttentionKind:
    config: type[Strict]
    enable: Callable[[Any, Any], Any] | None = None
    from_chip: Callable[[Any, Any], Any] = _from_chip
    to_chip: Callable[[Any], dict] = _to_chip


ATTENTION_KINDS: Registry[AttentionKind] = Registry("attention kind")


def register_attention_kind(kind: str, config_cls: type[Strict], enable: Callable[[Any, Any], Any] | None = None,
                            replace: bool = False) -> AttentionKind:
    """An attention kind outside the method folders (a test's, a user's): its settings (an ``AttentionSettings``
    subclass) and how to switch a model to it."""
    return ATTENTION_KINDS.register(kind, AttentionKind(config_cls, enable), replace)


def enable_sparse(model: Any, cfg: Any) -> Any:
    """Switch ``model``'s attention to the sparse kind ``cfg`` (every predictor's)."""
    return enable_sparse_attention(model, cfg)


def register_methods() -> None:
    """The method folders' attention kinds (hyflexpim.config.methods), by dotted path: each one's settings with
    its ``enable``, and each sparse one's scorer. Idempotent; the one registration of the sim side."""
    for kind, method in attention_methods().items():
        if kind not in ATTENTION_KINDS:
            enable = enable_sparse if method.sparse else method.load("accuracy")
            register_attention_kind(kind, method.load("config"), enable)
        if method.sparse and kind not in PREDICTORS:
            PREDICTORS.register(kind, method.load("accuracy"))


def attention_config(data: Any) -> Strict:
    """The typed config of an attention kind from ``{"kind": ..., **settings}`` (kind defaults to float)."""
    register_methods()
    return config_by_kind(ATTENTION_KINDS, data, "hardware.attention", "float")


def attention_plan(cfg: AttentionSettings) -> AttentionPlan:
    """The plan's ``attention`` block for an attention config: dense for a dense kind; for a sparse kind its keep
    share and settings (the plan validates them by kind; the chip's ``prediction`` is derived from them on the
    cost side, ``hyflexpim.hw.costs_prediction.chip_prediction``)."""
    return AttentionPlan.of(cfg)
