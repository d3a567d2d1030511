"""The attention-analysis step: the run's model on a slice of the test split, clean and as its PIM twin
at a few SLC rates (paper noise or whatever ``hardware`` says), written to ``<run>/attention/``.

The model is the run's redistributed model when the run folder holds it; otherwise the pretrained
model decomposed at full rank (an exact SVD, so the clean model is the pretrained one), with plans
that put the leading singular components in SLC.
"""

from __future__ import annotations

import copy
from pathlib import Path

from hyflexpim.algo.decompose import DecomposeConfig, decompose
from hyflexpim.algo.importance import score_importance
from hyflexpim.algo.plan_policy import make_plan
from hyflexpim.analysis import analyze_attention
from hyflexpim.errors import UserError
from hyflexpim.models.discover import fingerprint
from hyflexpim.pipeline import plan_step
from hyflexpim.pipeline.model_steps import base, model_of
from hyflexpim.plan import load_plan
from hyflexpim.report.attention_tables import write_attention, write_noise_summary
from hyflexpim.sim.apply import apply_plan


def _batches(run, examples: int):
    """The first ``examples`` examples of the test split, in batches (the last one cut to fit)."""
    out, seen = [], 0
    for b in run.task.batches("test"):
        n = next(iter(b.values())).shape[0]
        if seen + n > examples:
            b = {k: v[: examples - seen] for k, v in b.items()}
            n = examples - seen
        out.append(b)
        seen += n
        if seen >= examples:
            break
    return out


def _model_and_plans(run, rates, plan_file):
    """(float model, {label: plan}, source, variant) for the analysis; ``variant`` names the run's model variant the
    attention method's preparation (e.g. PQ's codebooks) is fitted on, None for the pretrained fallback."""
    if run.ws.has_model("redistributed"):
        model = model_of(run, "redistributed")
        plans = {f"slc{r:g}": plan_step.plan(run, "redistributed", run.config.importance.scorer, r) for r in rates}
        source, variant = "the run's redistributed model", "redistributed"
    else:
        model = copy.deepcopy(base(run))
        decompose(model, DecomposeConfig(rank_policy="full"))
        imp = score_importance(model, "singular_value")
        plans = {f"slc{r:g}": make_plan(model, imp, r, model_name=run.name) for r in rates}
        source, variant = "the pretrained model, decomposed at full rank (no run models in the folder)", None
    if plan_file:
        p = load_plan(plan_file)
        plans[Path(plan_file).stem] = p
    return model, plans, source, variant


def run_attention_analysis(run, examples: int = 32, rates=(0, 10, 100), plan_file: str | None = None) -> list[Path]:
    if examples < 1:
        raise UserError(f"--examples must be >= 1, got {examples}")
    batches = _batches(run, examples)
    if not batches:
        raise UserError("attention analysis: the test split gave no batches; give more data")
    model, plans, source, variant = _model_and_plans(run, rates, plan_file)
    for p in plans.values():
        p.check_model(fingerprint(model))
    out = run.files.attention
    name = f"{run.config.model} on {run.config.task}"
    tok = run.task.tokenizer
    report = analyze_attention(model, batches, tokenizer=tok, progress=run.progress, label=name)
    files = write_attention(report, out)
    run.say(f"attention ({source}, {report.examples} examples): " + ", ".join(
        f"L{r['layer']} k90 {r['k90_frac']:.0%}" for r in report.layer_table()))
    noise = []
    for label, plan in plans.items():
        # the hardware the run measures this plan with (its attention method prepared, e.g. PQ's codebooks)
        hw = run.config.hardware if variant is None else plan_step.hardware(run, variant, plan)
        twin = apply_plan(model, plan, hw, seed=run.config.noise_seeds[0])
        rep = analyze_attention(model, batches, twin=twin, tokenizer=tok, with_js=False, progress=run.progress,
                                label=f"{name}, {label}")
        files += write_attention(rep, out / label)
        rows = rep.layer_table()
        for r in rows:
            noise.append({"plan": label, "slc_rate": plan.policy.get("slc_rate"), "layer": r["layer"],
                          "top1_agreement": r.get("top1_agreement"), "total_variation": r.get("total_variation")})
        run.say(f"attention, PIM twin {label}: top-1 agreement "
                + ", ".join(f"L{r['layer']} {r['top1_agreement']:.0%}" for r in rows))
        del twin
    if noise:
        files += write_noise_summary(noise, out)
    return files
