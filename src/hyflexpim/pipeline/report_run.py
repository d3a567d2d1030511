"""The report step, the end of `hyflexpim run`: results table, differences, plot, learned ranks, report.html and
the one-line headline. It reads only the earlier steps' results (``pipeline.runner.Outcome``) and the run folder's
files; it prices nothing and makes no model, importance or plan.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hyflexpim.algo.rank import rank_hooks
from hyflexpim.device.noise import describe_noise
from hyflexpim.pipeline.curves import curves_of
from hyflexpim.pipeline.run import Run
from hyflexpim.report.html_run import gain_text, within_one_point, write_report
from hyflexpim.report.plots import plot_metric_vs_slc
from hyflexpim.report.results import compare_curves, write_differences, write_results

if TYPE_CHECKING:
    from hyflexpim.pipeline.runner import Outcome


def finish(run: Run, outcome: Outcome) -> None:
    out = run.ws.root
    label = run.config.label
    suffix = f"-{label}" if label else ""
    rows = outcome.evaluated.rows
    files = write_results(out, rows, suffix)
    files.extend(differences(run, outcome.evaluated.records, suffix))
    title = describe(run) + (f" ({label})" if suffix else "")
    files.append(plot_metric_vs_slc(rows, run.files.metric_plot(run.task.kind, label), title,
                                    pretrained=run.config.pre_finetune is None))
    if outcome.priced is not None:
        files.extend(outcome.priced.files)
    if not suffix and outcome.plans:  # the rank policy's own figures (learned: its ranks)
        files.extend(rank_hooks(run.config.decompose.rank_policy).figures(
            run.files, outcome.plans[0], f"{run.config.model} on {run.config.task}"))
    files.extend(outcome.attention)

    page = write_report([out])  # the whole folder, every labelled variant included
    files.append(page)
    shown = ", ".join(str(f) for f in files[:8])
    run.say(f"wrote {shown}" + (f" and {len(files) - 8} more files under {out}" if len(files) > 8 else ""))
    run.say(headline(run, rows, outcome))


def headline(run: Run, rows: list[dict], outcome: Outcome | None = None) -> str:
    """The run's answer in one line: total time, INT8 against the cheapest SLC rate within 1 point of it, the
    chip's throughput gain at that rate (from the price step's result), and the path of the run's report.html."""
    scorer = run.config.importance.scorer
    main = {r["slc_rate"]: r for r in rows if r["variant"] == "redistributed" and r["scorer"] == scorer
            and r["slc_rate"] is not None and r["policy"] == run.config.plan.policy}
    took = f"done in {(time.perf_counter() - run.started) / 60:.1f} min"
    page = f"report: {run.files.report}"
    if 100.0 not in main or run.task.kind != "classification":
        return f"{took}; {page}"
    int8 = main[100.0]["mean"]
    near = within_one_point({r: row["mean"] for r, row in main.items()})
    if not near:
        best = max((r for r in main if r < 100), key=lambda r: main[r]["mean"], default=None)
        if best is None:
            return f"{took}: INT8 (100 % SLC) {100 * int8:.1f} %; {page}"
        return (f"{took}: INT8 (100 % SLC) {100 * int8:.1f} %; no SLC rate below 100 % within 1 point of it (best "
                f"{100 * main[best]['mean']:.1f} % at {best:g} %); {page}")
    rate = near[0]
    priced = outcome.priced if outcome is not None else None
    hit = priced.hyflexpim_at(rate) if priced is not None else None
    gain = f", {gain_text(hit)}" if hit else ""
    return (f"{took}: INT8 {100 * int8:.1f} %, {rate:g} % SLC {100 * main[rate]['mean']:.1f} % (within 1 point)"
            f"{gain}; {page}")


def describe(run: Run) -> str:
    """What a figure shows: model, task, noise model with its main parameters, encoding, noise seeds."""
    c = run.config
    hw = c.hardware
    what = describe_noise(hw.noise)  # the noise model's own words (hyflexpim/methods/noise/<kind>/)
    return f"{c.model} on {c.task}, {what}, {hw.encoding} encoding, {len(c.noise_seeds)} noise seeds"


def differences(run: Run, records: list[dict], suffix: str) -> list:
    """Every ablation curve against the main one at the rates both measured (paired bootstrap): differences.csv."""
    curves = curves_of(run.config)
    policy = run.config.plan.policy
    main = (curves[0][0], curves[0][1], policy)
    rows = [d for v, s, _, p in curves[1:] for d in compare_curves(records, (v, s, p or policy), main)]
    return write_differences(run.ws.root, rows, suffix) if rows else []
