"""Cost models by spec kind: a registry (``kind: pim`` -> the PIM pipeline model, ``kind: roofline`` ->
the roofline baselines). A new kind of design is a spec class (``hyflexpim.chip.spec.SPEC_KINDS``) plus
``register_cost_model(kind, fn)`` with ``fn(plan, arch, spec, seq_lens, batch, gen_tokens) -> dict``.
"""

from __future__ import annotations

from typing import Callable

from hyflexpim.config import Registry

COST_MODELS: Registry[Callable[..., dict]] = Registry("cost model (spec kind)")


def register_cost_model(kind: str, fn: Callable[..., dict], replace: bool = False):
    return COST_MODELS.register(kind, fn, replace)


def _keep(plan) -> float:
    return plan.attention.keep if plan.attention.kind != "dense" else 1.0


def _pim(plan, arch, spec, seq, batch, gen_tokens) -> dict:
    from hyflexpim.hw.costs import pim_costs
    from hyflexpim.hw.mapping import map_plan

    mp = map_plan(plan, spec)
    b = len(mp.stages) if batch == "fill" else batch
    out = pim_costs(mp, spec, arch, seq, b, gen_tokens, _keep(plan))
    out["info"]["batch_label"] = "pipeline fill (one sequence per stage)" if batch == "fill" else f"{b}"
    return out


def _roofline(plan, arch, spec, seq, batch, gen_tokens) -> dict:
    from hyflexpim.hw.roofline import roofline_costs

    mats = [(m.role, m.shape[0], m.shape[1], m.layer is not None) for m in plan.matrices]  # every matrix runs
    b = arch.layers if batch == "fill" else batch
    out = roofline_costs(spec, arch, mats, seq, b, gen_tokens, attention_keep=_keep(plan))
    out["info"]["batch_label"] = "as many sequences as layers (the PIM pipeline fill)" if batch == "fill" else f"{b}"
    return out


register_cost_model("pim", _pim)
register_cost_model("roofline", _roofline)
