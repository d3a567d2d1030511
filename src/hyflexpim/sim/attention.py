"""Attention kinds: how a PIM twin computes attention. A registry, like the noise models.

``register_attention_kind(kind, config_cls, enable, from_chip, to_chip)``:

- ``config_cls``: a ``Strict`` pydantic class with ``kind: Literal["<kind>"]`` and the kind's settings;
- ``enable(model, config)``: switch a model's attention to this kind (``None``: leave it as it is);
- ``from_chip(config, spec) -> config``: fill the settings the chip spec fixes (precisions) that the
  user did not set; ``to_chip(config) -> dict``: the spec overrides those settings imply, so the cost
  side prices the same datapath.

Built-ins: ``float`` (the model's own attention, in floating point: an idealisation), ``digital``
(the paper's digital-PIM datapath: INT8 Q·Kᵀ, 12-bit probabilities × 8-bit V, hyflexpim.sim.digital_attention),
the dynamic sparse kinds ``topk`` (oracle), ``pq`` (HARDSEA's product-quantization prediction) and
``window`` (local window + first token), hyflexpim.sim.sparse_attention, and the published predictors
``spatten``, ``quest`` and ``h2o``, hyflexpim.sim.sparse_baselines, and ``block`` (key blocks chosen
per query block, computed by a kernel that skips the rest), hyflexpim.sim.block_sparse. The method folders
(hyflexpim/methods/predictors/<name>: ``sanger``, ``cluster``) are registered by ``register_methods`` from their
registration in hyflexpim.config.methods, by dotted path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hyflexpim.config import Registry, Strict, config_by_kind, require


class FloatAttentionConfig(Strict):
    """The model's own attention in floating point."""

    config_name = "hardware.attention (float)"
    kind: Literal["float"] = "float"


@dataclass(frozen=True)
class AttentionKind:
    config: type[Strict]
    enable: Callable[[Any, Any], Any] | None = None
    from_chip: Callable[[Any, Any], Any] = lambda config, spec: config
    to_chip: Callable[[Any], dict] = lambda config: {}


ATTENTION_KINDS: Registry[AttentionKind] = Registry("attention kind")


def register_attention_kind(kind: str, config_cls: type[Strict], enable=None, from_chip=None, to_chip=None,
                            replace: bool = False) -> AttentionKind:
    entry = AttentionKind(config_cls, enable, from_chip or (lambda c, s: c), to_chip or (lambda c: {}))
    if "keep" in config_cls.model_fields:  # a sparse kind: a plan may carry it (every reader checks the same names)
        from hyflexpim.plan.schema import PLAN_ATTENTION_KINDS

        PLAN_ATTENTION_KINDS.register(kind, kind, replace=True)
    return ATTENTION_KINDS.register(kind, entry, replace)


def attention_config(data) -> Strict:
    """The typed config of an attention kind from ``{"kind": ..., **settings}`` (kind defaults to float)."""
    return config_by_kind(ATTENTION_KINDS, data, "hardware.attention", "float")


def _digital_from_chip(cfg, spec):
    d = spec.digital
    chip = {"qk_bits": d.qk_bits[0], "prob_bits": d.sv_bits[0], "value_bits": d.sv_bits[1]}
    if "qk_bits" not in cfg.model_fields_set:
        require(d.qk_bits[0] == d.qk_bits[1], "qk_bits", f"the chip spec's digital.qk_bits {list(d.qk_bits)} gives Q "
                "and K different widths; the simulator uses one: set hardware.attention.qk_bits", list(d.qk_bits),
                "hardware.attention")
    unset = {k: v for k, v in chip.items() if k not in cfg.model_fields_set}
    return type(cfg)(**(cfg.model_dump() | unset)) if unset else cfg


def _digital_to_chip(cfg) -> dict:
    return {"digital": {"qk_bits": [cfg.qk_bits, cfg.qk_bits], "sv_bits": [cfg.prob_bits, cfg.value_bits]}}


def _enable_digital(model, cfg):
    from hyflexpim.sim.digital_attention import enable_digital_attention

    return enable_digital_attention(model, cfg)


def _digital_config_cls():
    from hyflexpim.sim.digital_attention import DigitalAttentionConfig

    return DigitalAttentionConfig


register_attention_kind("float", FloatAttentionConfig)
register_attention_kind("digital", _digital_config_cls(), _enable_digital, _digital_from_chip, _digital_to_chip)


def enable_sparse(model, cfg):
    """Switch ``model``'s attention to the sparse kind ``cfg`` (every predictor, built-in or a method folder's)."""
    from hyflexpim.sim.sparse_attention import enable_sparse_attention

    return enable_sparse_attention(model, cfg)


def _sparse_to_chip(cfg) -> dict:
    """The exact part's precisions; the keep share and the predictor travel in the plan (``attention_plan``)."""
    return _digital_to_chip(cfg)


def attention_plan(cfg):
    """The plan's ``attention`` block for an attention config: dense for ``float`` / ``digital``; for a sparse
    kind its keep share, its settings and the chip's ``prediction`` section (what the cost side prices)."""
    from hyflexpim.plan import AttentionPlan

    if not hasattr(cfg, "keep"):
        return AttentionPlan()
    params = cfg.model_dump(exclude={"kind", "keep"}, exclude_none=True) | {"prediction": cfg.prediction()}
    return AttentionPlan(kind=cfg.kind, keep=cfg.keep, params=params)


def _register_sparse() -> None:
    from hyflexpim.sim.block_sparse import BlockAttentionConfig
    from hyflexpim.sim.sparse_attention import TopKAttentionConfig, WindowAttentionConfig
    from hyflexpim.sim.sparse_baselines import BASELINE_CONFIGS

    kinds = {"topk": TopKAttentionConfig, "window": WindowAttentionConfig,
             "block": BlockAttentionConfig, **BASELINE_CONFIGS}
    for kind, cls in kinds.items():
        register_attention_kind(kind, cls, enable_sparse, _digital_from_chip, _sparse_to_chip)
    register_methods()


def register_methods() -> None:
    """The method folders' predictors (hyflexpim.config.methods): each one's config class as an attention kind and
    its accuracy half as the sparse-attention scorer, resolved by dotted path."""
    from hyflexpim.config.methods import predictor_methods
    from hyflexpim.sim.sparse_attention import PREDICTORS

    for kind, method in predictor_methods().items():
        if kind not in ATTENTION_KINDS:
            register_attention_kind(kind, method.load("config"), enable_sparse, _digital_from_chip, _sparse_to_chip)
        if kind not in PREDICTORS:
            PREDICTORS.register(kind, method.load("accuracy"))


_register_sparse()
