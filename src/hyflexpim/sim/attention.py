"""Attention kinds: how a PIM twin computes attention. A registry filled from the method folders.

Every attention kind is a method folder (hyflexpim.config.methods: ``float`` and ``digital`` in
hyflexpim/methods/attention/, the sparse kinds ``topk``, ``window``, ``block``, ``spatten``, ``quest``, ``h2o``,
``sanger``, ``cluster``, ``pq`` in hyflexpim/methods/predictors/). ``ATTENTION_KINDS`` holds each folder's typed
settings (``config.py``) with how to switch a model to it (``enable``: a dense kind's accuracy half; every sparse
kind through ``enable_sparse_attention``); it fills itself from the folders at its first read, like every method
registry (``hyflexpim.config.methods.fill_from``; ``register_all_methods`` fills them all). Importing a module
registers nothing.

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
from hyflexpim.config.methods import AttentionMethod, attention_methods, fill_from
from hyflexpim.plan import AttentionPlan
from hyflexpim.sim.sparse_attention import enable_sparse_attention


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


def _attention_kind(method: AttentionMethod) -> AttentionKind:
    return AttentionKind(method.load("config"), enable_sparse if method.sparse else method.load("accuracy"))


# the attention kind folders (``hyflexpim.config.methods.METHOD_PACKAGES``), at the first read
ATTENTION_KINDS: Registry[AttentionKind] = Registry("attention kind",
                                                    fill=fill_from(attention_methods, _attention_kind))


def register_attention_kind(kind: str, config_cls: type[Strict], enable: Callable[[Any, Any], Any] | None = None,
                            replace: bool = False) -> AttentionKind:
    """An attention kind outside the method folders (a test's, a user's): its settings (an ``AttentionSettings``
    subclass) and how to switch a model to it."""
    return ATTENTION_KINDS.register(kind, AttentionKind(config_cls, enable), replace)


def enable_sparse(model: Any, cfg: Any) -> Any:
    """Switch ``model``'s attention to the sparse kind ``cfg`` (every predictor's)."""
    return enable_sparse_attention(model, cfg)


def attention_config(data: Any) -> Strict:
    """The typed config of an attention kind from ``{"kind": ..., **settings}`` (kind defaults to float)."""
    return config_by_kind(ATTENTION_KINDS, data, "hardware.attention", "float")


def attention_plan(cfg: AttentionSettings) -> AttentionPlan:
    """The plan's ``attention`` block for an attention config: dense for a dense kind; for a sparse kind its keep
    share and settings (the plan validates them by kind; the chip's ``prediction`` is derived from them on the
    cost side, ``hyflexpim.hw.costs_prediction.chip_prediction``)."""
    return AttentionPlan.of(cfg)
