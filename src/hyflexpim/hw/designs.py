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


def _pim(plan, arch, spec, seq, batch, gen_tokens) -> dict:
    from hyflexpim.hw.costs import pim_costs
    from hyflexpim.hw.mapping import map_plan

    return pim_costs(map_plan(plan, spec), spec, arch, seq, batch or arch.layers, gen_tokens)


def _roofline(plan, arch, spec, seq, batch, gen_tokens) -> dict:
    from hyflexpim.hw.roofline import roofline_costs

    dense = sum(m.shape[0] * m.shape[1] for m in plan.matrices)  # every matrix runs on the baseline
    return roofline_costs(spec, arch, dense, seq, batch or arch.layers, gen_tokens)


register_cost_model("pim", _pim)
register_cost_model("roofline", _roofline)
