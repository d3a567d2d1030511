"""The evaluate step: the clean models and every curve's plans under noise (Monte Carlo over the noise seeds),
each evaluation recorded in evaluations.jsonl and skipped when already there, summarised for results.csv."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hyflexpim.algo.importance import SCORERS
from hyflexpim.pipeline import plan_step
from hyflexpim.pipeline.curves import curves_of
from hyflexpim.pipeline.importance_step import importance
from hyflexpim.pipeline.model_steps import finetuned, model_of, redistributed
from hyflexpim.plan import Plan
from hyflexpim.report.confidence import has_examples
from hyflexpim.report.results import summarize, terminal_line
from hyflexpim.sim.apply import apply_plan, build_noise
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.evaluate import METRICS, per_example, record_fields, summary

if TYPE_CHECKING:
    from hyflexpim.pipeline.run import Run

@dataclass
class Evaluated:
    """What the evaluate step hands on: the summarised rows (results.csv) and this run's evaluation records (the
    paired differences between curves read them)."""

    rows: list[dict[str, Any]]
    records: list[dict[str, Any]]


def deterministic(plan: Plan, hardware: HardwareConfig) -> bool:
    """True when the noise model draws nothing for this plan (e.g. 100% SLC with ideal SLC cells)."""
    hardware = hardware.resolved()
    noise = build_noise(hardware)
    if noise.has_read_noise or hardware.mode != "static":
        return False
    for m in plan.analog:
        if m.slc and not noise.is_ideal(1):
            return False
        if len(m.slc) < m.n_units and not noise.is_ideal(hardware.mlc_bits):
            return False
    return True


def plan_digest(plan: Plan, hardware: HardwareConfig) -> str:
    """Identity of an evaluation's inputs: everything of the plan that changes a result, and the hardware config."""
    h = hashlib.sha256(plan.identity().encode())  # shapes, roles and attention included: an edited plan is new
    h.update(hardware.resolved().model_dump_json().encode())
    return h.hexdigest()[:12]


def evaluate_clean(run: Run, variant: str) -> dict[str, Any]:
    run.check_keys()

    key = f"{variant}/clean"
    done = run.ws.done()
    if key in done and has_examples(done[key]):
        return done[key]
    outcome = per_example(model_of(run, variant), run.task.batches("test"), run.task.kind, run.progress)
    rec = {"key": key, "variant": variant, "scorer": None, "policy": None, "slc_rate": None,
           "seed": None, "metric": METRICS[run.task.kind][0], "value": summary(outcome),
           "slc_weight_fraction": None,
           **record_fields(outcome)}
    run.ws.record(rec)
    return rec


def evaluate_plan(run: Run, variant: str, scorer: str, rate: float, plan: Plan | None = None,
                  policy: str | None = None) -> list[dict[str, Any]]:
    run.check_keys()

    plan = plan or plan_step.plan(run, variant, scorer, rate, policy)
    policy = plan.policy.get("name", run.config.plan.policy)
    out = []
    done = run.ws.done()
    batches = None
    hw = plan_step.hardware(run, variant, plan)
    digest = plan_digest(plan, hw)
    exact = deterministic(plan, hw)
    outcome = None
    for seed in run.config.noise_seeds:
        key = f"{variant}/{scorer}/{policy}/{rate:g}/{seed}/{digest}"
        if key in done and has_examples(done[key]):  # (a record without per-example outcomes is re-measured)
            out.append(done[key])
            continue
        if outcome is None or not exact:  # no draw at all: one evaluation serves every seed
            batches = batches or run.task.batches("test")
            twin = apply_plan(model_of(run, variant), plan, hw, seed=seed)
            outcome = per_example(twin, batches, run.task.kind, run.progress)
            del twin
        rec = {"key": key, "variant": variant, "scorer": scorer, "policy": policy, "slc_rate": rate,
               "seed": seed, "metric": METRICS[run.task.kind][0], "value": summary(outcome),
               "slc_weight_fraction": plan.slc_weight_fraction, "encoding": hw.encoding, "mlc_bits": hw.mlc_bits,
               **record_fields(outcome)}
        run.ws.record(rec)
        out.append(rec)
    return out


def collective_steps(run: Run) -> None:
    """What every process of a multi-process run does together, in the order the main process does it: the
    fine-tunes (DDP) and the gradient importance of each curve (its batches shared out, the sums added up).
    The main process writes; the others stop after this."""
    finetuned(run)
    redistributed(run)
    for variant, scorer, _, _ in curves_of(run.config):
        if SCORERS.get(scorer, "importance.scorer").needs_batches:
            importance(run, variant, scorer)


def evaluate_all(run: Run) -> Evaluated:
    """The evaluate step: every curve's evaluations (cached in evaluations.jsonl), summarised."""
    if not run.is_main:  # a follower of a multi-process run: the shared steps, then the main process goes on
        collective_steps(run)
        return Evaluated([], [])
    records = [evaluate_clean(run, "fp32"), evaluate_clean(run, "redistributed")]
    fp32 = "FP32 pretrained" if run.config.pre_finetune is None else "FP32 fine-tuned"
    run.say(f"{fp32} {records[0]['metric']}: {records[0]['value']:.4f}; "
            f"after SVD + redistribution (float): {records[1]['value']:.4f}")
    for variant, scorer, rates, policy in curves_of(run.config):
        for rate in rates:
            recs = evaluate_plan(run, variant, scorer, rate, policy=policy)
            records.extend(recs)
            run.say(terminal_line(variant, scorer, rate, recs))
    return Evaluated(summarize(records, run.config.importance.scorer), records)
