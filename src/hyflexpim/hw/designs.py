"""Cost models by spec kind: a registry (``kind: pim`` -> the PIM pipeline model, ``kind: roofline`` ->
the roofline baselines, ``kind: gpu`` -> a GPU's kernels (hyflexpim.hw.gpu), ``kind: attention`` -> attention-only
accelerators such as HARDSEA). Each built-in kind is a method folder (``hyflexpim/methods/designs/<kind>/``: its
registration names the spec class and the cost model, ``cost.py`` holds the cost model), registered from
``hyflexpim.config.methods`` when the registry is first read (importing this module registers nothing). A user's
kind: a spec class (``hyflexpim.chip.spec.SPEC_KINDS``) plus ``register_cost_model(kind, fn)`` with
``fn(plan, arch, spec, seq_lens, batch, gen_tokens) -> HwResult`` (hyflexpim.hw.results).
"""

from __future__ import annotations

from collections.abc import Callable

from hyflexpim.config import Registry
from hyflexpim.config.methods import design_methods, fill_from
from hyflexpim.hw.results import HwResult
from hyflexpim.plan import Plan

FILL_BASELINE = "as many sequences as layers (the PIM pipeline fill)"

# the design folders' cost halves and scopes (``hyflexpim.config.methods.DESIGN_PACKAGES``), at the first read
COST_MODELS: Registry[Callable[..., HwResult]] = Registry("cost model (spec kind)",
                                                      fill=fill_from(design_methods, lambda m: m.load("cost")))


# spec kind -> the work its cost model prices: "model" (the whole model) or "self-attention only" (an attention-only
# design: its baselines are then priced on the self-attention alone, hyflexpim.hw.attention_only.ATTENTION_ON)
COST_SCOPES: Registry[str] = Registry("cost model scope (spec kind)",
                                        fill=fill_from(design_methods, lambda m: m.scope))


def register_cost_model(kind: str, fn: Callable[..., HwResult], replace: bool = False,
                        scope: str = "model") -> Callable[..., HwResult]:
    COST_SCOPES.register(kind, scope, replace)
    return COST_MODELS.register(kind, fn, replace)


def prices_whole_model(kind: str) -> bool:
    return COST_SCOPES.get(kind, "spec kind") == "model"


def batch_size(batch: int | str, fill: int) -> int:
    """Sequences in flight: ``batch``, or ``fill`` for ``"fill"`` (what filling the design means is its own)."""
    return fill if batch == "fill" else int(batch)


def attention_keep(plan: Plan) -> float:
    """The share of attention entries a plan computes: 1 for dense attention (the plan's schema checks it)."""
    return float(plan.attention.keep)
