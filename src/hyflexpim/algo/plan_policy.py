"""Plan policies: turn importance scores into a Plan (which units of each matrix go to SLC).

A registry (``PLAN_POLICIES``): ``register_plan_policy(name, fn)`` where ``fn(analog, rate)`` sets
``entry.slc`` of every analog ``MatrixPlan`` (each carries its ``importance``) for a rate in %.

- ``uniform``: the paper's rule — the same SLC rate in every matrix, its most important units.
- ``global``: one budget across all matrices — SLC weights = rate × all analog weights, spent on
  the units with the highest importance per weight (a unit of a component costs d_out+d_in
  weights, a row costs d_in), greedily.
- ``sensitivity``: the same budget, spent where the measured accuracy cost per cell is largest: each unit's value
  is its matrix's noise sensitivity (the loss increase with that matrix alone all-MLC, ``sim.sensitivity``) times
  the unit's share of its matrix's importance, per weight. Needs ``make_plan(..., sensitivity=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from hyflexpim import __version__
from hyflexpim.algo.decompose import Placement, placements
from hyflexpim.algo.importance import Importance
from hyflexpim.config import Registry
from hyflexpim.errors import UserError
from hyflexpim.models.architecture import architecture_of
from hyflexpim.models.discover import fingerprint
from hyflexpim.plan import Architecture, MatrixPlan, Plan

PLAN_POLICIES: Registry[Callable[[list[MatrixPlan], float], None]] = Registry("plan policy")


def register_plan_policy(name: str, fn: Callable[[list[MatrixPlan], float], None], replace: bool = False):
    return PLAN_POLICIES.register(name, fn, replace)


def check_rate(rate: float) -> float:
    if not isinstance(rate, (int, float)) or math.isnan(rate) or not 0 <= rate <= 100:
        raise UserError(f"SLC rate must be a percentage in 0..100, got {rate}")
    return float(rate)


def top_units(scores: torch.Tensor, n: int) -> list[int]:
    if n <= 0:
        return []
    order = torch.argsort(scores.double(), descending=True, stable=True)
    return sorted(order[:n].tolist())


def _entries(places: list[Placement], importance: Importance) -> list[MatrixPlan]:
    out = []
    for p in places:
        i = p.info
        base = dict(name=i.name, role=i.role, layer=i.layer, shape=i.shape)
        if i.name in importance.scores:
            s = importance.scores[i.name]
            out.append(MatrixPlan(**base, analog=True, unit=importance.unit,
                                  rank=p.rank if importance.unit == "component" else None,
                                  importance=[float(x) for x in s], scorer=importance.scorer))
        else:
            reason = p.reason if not p.analog else "no importance score (not decomposed)"
            out.append(MatrixPlan(**base, analog=False, digital_reason=reason))
    return out


def uniform_policy(analog: list[MatrixPlan], rate: float) -> None:
    """The paper's rule: the same share of units in every matrix, its most important ones."""
    for e in analog:
        e.slc = top_units(torch.tensor(e.importance), round(rate / 100 * e.n_units))


def _greedy(analog: list[MatrixPlan], rate: float, value) -> None:
    """Spend rate % of all analog weights on the units with the highest ``value(entry, score)`` per weight."""
    budget = rate / 100 * sum(e.n_weights for e in analog)
    units = [(value(e, s) / e.weights_per_unit, j, k) for j, e in enumerate(analog) for k, s in enumerate(e.importance)]
    units.sort(key=lambda t: -t[0])
    chosen: dict[int, list[int]] = {}
    spent = 0.0
    for _, j, k in units:
        cost = analog[j].weights_per_unit
        if spent + cost > budget + 1e-9:
            continue
        chosen.setdefault(j, []).append(k)
        spent += cost
    for j, e in enumerate(analog):
        e.slc = sorted(chosen.get(j, []))


def global_policy(analog: list[MatrixPlan], rate: float) -> None:
    """One budget of SLC weights (rate % of all analog weights) spent on the highest importance per weight."""
    _greedy(analog, rate, lambda e, s: s)


def sensitivity_policy(analog: list[MatrixPlan], rate: float, sensitivity: dict[str, float]) -> None:
    """The global budget spent on sensitivity × importance share per weight (see the module doc)."""
    missing = [e.name for e in analog if e.name not in sensitivity]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UserError(f"plan policy 'sensitivity': no measured sensitivity for {missing[0]}{more}")
    totals = {e.name: sum(e.importance) or 1.0 for e in analog}
    _greedy(analog, rate, lambda e, s: sensitivity[e.name] * s / totals[e.name])


sensitivity_policy.needs_sensitivity = True


register_plan_policy("uniform", uniform_policy)
register_plan_policy("global", global_policy)
register_plan_policy("sensitivity", sensitivity_policy)


def make_plan(model: nn.Module, importance: Importance, slc_rate: float, policy: str = "uniform",
              model_name: str | None = None, extra_policy: dict | None = None,
              sensitivity: dict[str, float] | None = None) -> Plan:
    """The model-level verb: a Plan placing ``slc_rate`` % of each matrix (or of all weights) in SLC.
    ``sensitivity``: each matrix's measured noise sensitivity, for a policy that needs it (``sensitivity``)."""
    rate = check_rate(slc_rate)
    place = PLAN_POLICIES.get(policy, "plan.policy")
    entries = _entries(placements(model), importance)
    analog = [e for e in entries if e.analog]
    if not analog:
        raise UserError("no analog matrices to place: decompose the model or choose a scorer that matches it")
    if getattr(place, "needs_sensitivity", False):
        if sensitivity is None:
            raise UserError(f"plan policy '{policy}' needs each matrix's measured noise sensitivity "
                            "(hyflexpim.sim.sensitivity.noise_sensitivity; `hyflexpim run` measures it)")
        place(analog, rate, sensitivity)
    else:
        place(analog, rate)
    name = model_name or getattr(model, "hyflexpim_name", type(model).__name__)
    return Plan(
        package_version=__version__,
        model_name=name,
        model_fingerprint=fingerprint(model),
        architecture=Architecture(**architecture_of(model, name)),
        policy={"name": policy, "slc_rate": rate, "scorer": importance.scorer, "unit": importance.unit,
                "importance_batches": importance.batches, **(extra_policy or {})},
        matrices=entries,
    )
