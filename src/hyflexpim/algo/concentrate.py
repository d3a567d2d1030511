"""Importance concentration: a regulariser added to the redistribution loss that pushes each decomposed matrix's
function into few singular components, so that the few put in SLC carry most of it (the paper's Fig. 11 story,
made a training objective rather than hoped for).

A registry (``CONCENTRATORS``): ``register_concentrator(name, fn)`` with ``fn(layers, top) -> scalar tensor``, where
``layers`` maps names to ``SVDLinear`` and ``top`` is the share (%) of each matrix's components allowed to hold the
mass. Built-in:

- ``sigma_tail``: the mean over matrices of the share of Σ mass (Σ|σ_i|) outside each matrix's top ``top`` % of
  components by |σ| (the set is re-chosen every step, without gradient). 0 when all mass is in the top set.

    cfg = ConcentrationConfig(strength=0.1)
    finetune(model, batches, regularizer=concentration_penalty(model, cfg))
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from pydantic import Field, field_validator
from torch import nn

from hyflexpim.config import Registry, Strict
from hyflexpim.models.layers import SVDLinear

Concentrator = Callable[[dict[str, SVDLinear], float], torch.Tensor]
CONCENTRATORS: Registry[Concentrator] = Registry("concentration regulariser")


def register_concentrator(name: str, fn: Concentrator, replace: bool = False) -> Concentrator:
    return CONCENTRATORS.register(name, fn, replace)


def _top_count(k: int, top: float) -> int:
    return max(1, round(top / 100 * k))


def sigma_tail(layers: dict[str, SVDLinear], top: float) -> torch.Tensor:
    shares = []
    for m in layers.values():
        s = m.S.abs()
        keep = _top_count(s.numel(), top)
        order = s.detach().argsort(descending=True)
        shares.append(s[order[keep:]].sum() / s.sum().clamp_min(1e-12))
    return torch.stack(shares).mean()


register_concentrator("sigma_tail", sigma_tail)


class ConcentrationConfig(Strict):
    """``concentration``: a regulariser on the redistribution fine-tune (off at strength 0: the paper's plain loss)."""

    config_name = "concentration"
    kind: str = Field("sigma_tail", description="a registered concentration regulariser (hyflexpim.algo.concentrate)")
    strength: float = Field(0.0, ge=0, le=1e3, description="weight of the penalty in the loss; 0 turns it off")
    top: float = Field(10.0, gt=0, lt=100, description="% of each matrix's components that may hold the mass")
    # AdamW moves each parameter by about lr per step whatever the penalty's strength: at the redistribution's lr
    # (1e-4) and 63 steps no σ of order 1 can move by more than 0.006, and the penalty changes nothing measurable
    # (docs/accuracy.md §8). Σ gets its own learning rate so that the penalty can act.
    sigma_lr_scale: float = Field(100.0, ge=1, le=1e4, description="learning rate of Σ over the redistribution's "
                                  "while the penalty is on")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return CONCENTRATORS.check(v)


def concentration_penalty(model: nn.Module, cfg: ConcentrationConfig) -> Callable[[], torch.Tensor] | None:
    """``regularizer()`` for ``finetune``: strength × the configured penalty over the model's SVD layers (None when
    off or when the model has none)."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, SVDLinear)}
    if cfg.strength == 0 or not layers:
        return None
    fn = CONCENTRATORS.get(cfg.kind, "concentration.kind")
    return lambda: cfg.strength * fn(layers, cfg.top)
