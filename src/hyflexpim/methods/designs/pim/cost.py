"""The PIM chip's cost model: map the plan onto the arrays (hyflexpim.hw.mapping), price it (hyflexpim.hw.costs)."""

from __future__ import annotations

from hyflexpim.chip.spec import PimSpec, Prediction
from hyflexpim.config import validate
from hyflexpim.errors import UserError
from hyflexpim.hw.costs import pim_costs
from hyflexpim.hw.costs_prediction import chip_prediction, predictor
from hyflexpim.hw.designs import attention_keep, batch_size
from hyflexpim.hw.mapping import map_plan
from hyflexpim.hw.results import HwResult
from hyflexpim.plan import Architecture, Plan


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
    pr: Prediction = validate(Prediction, spec.prediction.model_dump() | pred, "plan attention")
    if spec.lib is None or pr.topk not in spec.lib.components:
        raise UserError(f"spec '{spec.name}': prediction.topk component '{pr.topk}' is not in its library")
    return spec.model_copy(update={"prediction": pr})


def price(plan: Plan, arch: Architecture, spec: PimSpec, seq: list[int], batch: int | str,
          gen_tokens: int) -> HwResult:
    spec = _with_prediction(plan, spec)

    mp = map_plan(plan, spec)
    b = batch_size(batch, len(mp.stages))
    out = pim_costs(mp, spec, arch, seq, b, gen_tokens, attention_keep(plan))
    return out.with_info(batch_label="pipeline fill (one sequence per stage)" if batch == "fill" else f"{b}")
