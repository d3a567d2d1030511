"""The runner of ``hyflexpim run`` (and of each sweep cell): the declared steps (``pipeline.steps``) in their order.

    models (pre-finetune, decompose, redistribute) ─► importance ─► plan ─► evaluate ─► price ─► attention ─► report

Each step is its own module taking the run's context (``pipeline.run.Run``): ``model_steps``, ``importance_step``,
``plan_step``, ``evaluate_step``, ``price_step``, ``attention_step``, ``report_run``. The model, importance and
plan steps are made on demand by the steps that read them, each reusing its cached output when its key (derived
from the sections it reads) is unchanged, so a re-run resumes where the last one stopped. Each later step hands its
result to the next; the report step only reads results and files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hyflexpim.algo.rank import rank_hooks
from hyflexpim.pipeline.attention_step import run_attention_analysis
from hyflexpim.pipeline.evaluate_step import Evaluated, evaluate_all
from hyflexpim.pipeline.plan_step import main_plans
from hyflexpim.pipeline.price_step import Priced, price
from hyflexpim.pipeline.report_run import finish
from hyflexpim.pipeline.run import Run
from hyflexpim.plan import Plan


@dataclass
class Outcome:
    """Every step's result, for the report step: evaluations, the main curve's plans, the price, attention files."""

    evaluated: Evaluated
    plans: list[Plan] = field(default_factory=list)
    priced: Priced | None = None
    attention: list[Path] = field(default_factory=list)


def run_steps(run: Run) -> Outcome | None:
    """Every step of the run; None for a follower process of a multi-process run (it shares the training steps)."""
    evaluated = evaluate_all(run)
    if not run.is_main:
        return None
    c = run.config
    out = Outcome(evaluated)
    if c.hw_report or any(f.exists() for f in rank_hooks(c.decompose.rank_policy).artefacts(run.files)):
        out.plans = main_plans(run)
    if c.hw_report:
        out.priced = price(run, out.plans)
    if c.attention.enabled and not c.label:
        rates = [r for r in c.attention.slc_rates if r in c.plan.slc_rates]
        out.attention = run_attention_analysis(run, c.attention.examples, rates)
    finish(run, out)
    return out
