"""The plan step: the plan at each SLC rate (``plans/``), with the run's attention block, and what it reads besides
the importance scores: the hardware of a model variant (after its attention method's preparation hook) and, for a
policy that needs it, each matrix's measured noise sensitivity (``sensitivity/``, cached per hardware)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from hyflexpim.algo.importance import Importance
from hyflexpim.algo.plan_policy import PLAN_POLICIES, make_plan
from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json
from hyflexpim.config import validate
from hyflexpim.config.methods import predictor_methods
from hyflexpim.pipeline.importance_step import importance
from hyflexpim.pipeline.model_steps import model_of
from hyflexpim.plan import Plan, load_plan
from hyflexpim.sim.attention import attention_plan
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.sensitivity import noise_sensitivity

if TYPE_CHECKING:
    from hyflexpim.pipeline.run import Run


def plan_digest_of(hardware: HardwareConfig) -> str:
    """A short identity of a hardware config (for files that depend on it)."""
    return hashlib.sha256(hardware.resolved().model_dump_json().encode()).hexdigest()[:8]


def sensitivity(run: Run, variant: str, imp: Importance) -> dict[str, float]:
    """Each analog matrix's noise sensitivity on this run's hardware (``sim.sensitivity``), cached per hardware."""
    path = run.files.sensitivity(variant, imp.unit, plan_digest_of(run.config.hardware))
    if path.exists():
        cached: dict[str, float] = load_json(path, "noise sensitivities")
        return cached
    batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 5)
    sens = run.timed(f"noise sensitivity of {len(imp.scores)} matrices ({variant} model, each alone all-MLC)",
                     lambda: noise_sensitivity(model_of(run, variant), batches, list(imp.scores), imp.unit,
                                               run.config.hardware, seed=run.config.seed,
                                               progress=run.progress))
    if run.is_main:
        write_atomic(path, json.dumps(sens, indent=1))
    top = sorted(sens, key=lambda n: sens[n], reverse=True)[:3]
    run.say("  most sensitive: " + "; ".join(f"{n} (+{sens[n]:.3f} loss)" for n in top))
    return sens


def hardware(run: Run, variant: str, plan: Plan | None = None) -> HardwareConfig:
    """The run's hardware for one model variant, after its attention method's ``prepare`` hook (a method
    folder's registration, ``hyflexpim.config.methods``: PQ fits its codebooks once on this variant's keys and
    stores them under ``attention/``). A ``plan`` whose attention block is sparse brings its own attention (its
    kind, keep and settings): the accuracy is measured with the attention the plan is priced with."""
    hw = run.config.hardware
    if plan is not None and plan.attention.sparse:
        own = plan.attention.settings.model_dump(exclude_none=True)  # the plan's kind, keep and settings
        data = hw.model_dump(exclude={"attention"}) | {"attention": own}
        hw = validate(HardwareConfig, data, "plan attention").resolved("plan attention")
    method = predictor_methods().get(hw.attention.kind)
    prepare = method.load("prepare") if method is not None else None
    return hw if prepare is None else prepare(run, variant, hw)


def plan(run: Run, variant: str, scorer: str, rate: float, policy: str | None = None) -> Plan:
    """The plan at one SLC rate; its ``attention`` block is the run's attention kind (keep share, settings,
    the predictor the chip prices), so accuracy and cost come from the same plan."""
    run.check_keys()
    policy = policy or run.config.plan.policy
    needs = getattr(PLAN_POLICIES.get(policy, "plan.policy"), "needs_sensitivity", False)
    # a policy that reads the measured sensitivity depends on the hardware: its plans are named by it
    tag = f"-hw{plan_digest_of(run.config.hardware)}" if needs else ""
    attention = attention_plan(hardware(run, variant).attention)
    sparse = f"-{attention.kind}{attention.keep:g}" if attention.sparse else ""
    path = run.files.plan(variant, scorer, policy, rate, tag, sparse)  # one file per attention: self-consistent
    if path.exists():
        p = load_plan(path)
        if p.attention == attention:
            return p
    dense = run.files.plan(variant, scorer, policy, rate, tag)
    if dense.exists():  # the same placement, another attention
        p = load_plan(dense)
    else:
        imp = importance(run, variant, scorer)
        sens = sensitivity(run, variant, imp) if needs else None
        p = make_plan(model_of(run, variant), imp, rate, policy, model_name=run.name,
                      extra_policy={"variant": variant}, sensitivity=sens)
        if sparse:
            p.save(dense)
    p.attention = attention
    p.save(path)
    return p


def main_plans(run: Run) -> list[Plan]:
    """The plan step's output the later steps read: the main curve's plan at each of the run's SLC rates."""
    return [plan(run, "redistributed", run.config.importance.scorer, r) for r in run.config.plan.slc_rates]


def check_plan_early(run: Run, p: Plan) -> None:
    """Refuse a plan made for another model before any model is loaded (from the fingerprint the run wrote)."""
    path = run.files.fingerprint
    if path.exists():
        p.check_model(path.read_text().strip())
