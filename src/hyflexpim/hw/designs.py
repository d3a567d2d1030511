"""Cost models by spec kind: a registry (``kind: pim`` -> the PIM pipeline model, ``kind: roofline`` ->
the roofline baselines, ``kind: gpu`` -> a GPU's kernels (hyflexpim.hw.gpu), ``kind: attention`` -> attention-only
accelerators such as HARDSEA). A new kind of design is a spec class (``hyflexpim.chip.spec.SPEC_KINDS``) plus
``register_cost_model(kind, fn)`` with ``fn(plan, arch, spec, seq_lens, batch, gen_tokens) -> HwResult``
(hyflexpim.hw.results).
"""

from __future__ import annotations

from collections.abc import Callable

from hyflexpim.chip.spec import AttentionSpec, GpuSpec, PimSpec, RooflineSpec
from hyflexpim.config import Registry
from hyflexpim.errors import UserError
from hyflexpim.hw.costs_prediction import chip_prediction, predictor
from hyflexpim.hw.results import HwResult
from hyflexpim.plan import Architecture, Plan

FILL_BASELINE = "as many sequences as layers (the PIM pipeline fill)"
COST_MODELS: Registry[Callable[..., HwResult]] = Registry("cost model (spec kind)")


# spec kind -> the work its cost model prices: "model" (the whole model) or "self-attention only" (an attention-only
# design: its baselines are then priced on the self-attention alone, hyflexpim.hw.attention_only.ATTENTION_ON)
COST_SCOPES: Registry[str] = Registry("cost model scope (spec kind)")


def register_cost_model(kind: str, fn: Callable[..., HwResult], replace: bool = False,
                        scope: str = "model") -> Callable[..., HwResult]:
    COST_SCOPES.register(kind, scope, replace)
    return COST_MODELS.register(kind, fn, replace)


def prices_whole_model(kind: str) -> bool:
    return COST_SCOPES.get(kind, "spec kind") == "model"


def batch_size(batch: int | str, fill: int) -> int:
    """Sequences in flight: ``batch``, or ``fill`` for ``"fill"`` (what filling the design means is its own)."""
    return fill if batch == "fill" else int(batch)


def _keep(plan: Plan) -> float:
    return float(plan.attention.keep)  # 1 for dense attention (the plan's schema checks it)


def _with_prediction(plan: Plan, spec: PimSpec) -> PimSpec:
    """A sparse plan runs its own predictor (derived from its attention settings: ``chip_prediction``) on a design
    that has none; the design's other prediction settings (top-k engines and component) stay."""
    if not plan.attention.sparse:
        return spec
    if predictor(spec.prediction).selects:
        raise UserError(f"spec '{spec.name}' prices its own sparse attention (prediction: {spec.prediction.kind}) and "
                        f"the plan carries one too ({plan.attention.kind}, keep {plan.attention.keep:g}): price the "
                        "plan on a dense spec such as hyflexpim, or give a plan with dense attention")
    pred = chip_prediction(plan.attention)
    if not pred:
        return spec
    from hyflexpim.chip.spec import Prediction
    from hyflexpim.config import validate

    pr = validate(Prediction, spec.prediction.model_dump() | pred, "plan attention")
    if spec.lib is None or pr.topk not in spec.lib.components:
        raise UserError(f"spec '{spec.name}': prediction.topk component '{pr.topk}' is not in its library")
    return spec.model_copy(update={"prediction": pr})


def _pim(plan: Plan, arch: Architecture, spec: PimSpec, seq: list[int], batch: int | str,
        gen_tokens: int) -> HwResult:
    from hyflexpim.hw.costs import pim_costs
    from hyflexpim.hw.mapping import map_plan

    spec = _with_prediction(plan, spec)

    mp = map_plan(plan, spec)
    b = batch_size(batch, len(mp.stages))
    out = pim_costs(mp, spec, arch, seq, b, gen_tokens, _keep(plan))
    return out.with_info(batch_label="pipeline fill (one sequence per stage)" if batch == "fill" else f"{b}")


def _roofline(plan: Plan, arch: Architecture, spec: RooflineSpec, seq: list[int], batch: int | str,
        gen_tokens: int) -> HwResult:
    from hyflexpim.hw.roofline import roofline_costs

    mats = [(m.role, m.shape[0], m.shape[1], m.layer is not None) for m in plan.matrices]  # every matrix runs
    b = batch_size(batch, arch.layers)
    out = roofline_costs(spec, arch, mats, seq, b, gen_tokens, attention_keep=_keep(plan))
    return out.with_info(batch_label=FILL_BASELINE if batch == "fill" else f"{b}")


def _gpu(plan: Plan, arch: Architecture, spec: GpuSpec, seq: list[int], batch: int | str,
        gen_tokens: int) -> HwResult:
    from hyflexpim.hw.gpu import gpu_costs

    mats = [(m.role, m.shape[0], m.shape[1], m.layer) for m in plan.matrices]  # every matrix runs
    b = batch_size(batch, arch.layers)
    out = gpu_costs(spec, arch, mats, seq, b, gen_tokens, attention_keep=_keep(plan))
    return out.with_info(batch_label=FILL_BASELINE if batch == "fill" else f"{b}")


def _attention(plan: Plan, arch: Architecture, spec: AttentionSpec, seq: list[int], batch: int | str,
        gen_tokens: int) -> HwResult:
    from hyflexpim.hw.attention_only import attention_costs

    b = batch_size(batch, 1)
    return attention_costs(spec, arch, seq, b, gen_tokens, _keep(plan)).with_info(batch_label=f"{b}")


register_cost_model("pim", _pim)
register_cost_model("roofline", _roofline)
register_cost_model("attention", _attention, scope="self-attention only")
register_cost_model("gpu", _gpu)
