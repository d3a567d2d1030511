"""The end of `hyflexpim run`: results table, plot, and the chip model's numbers for the plans."""

from __future__ import annotations

from hyflexpim.pipeline.run import Run
from hyflexpim.report.plots import plot_metric_vs_slc
from hyflexpim.report.results import write_results


def finish(run: Run, rows: list[dict]) -> None:
    out = run.ws.root
    suffix = f"-{run.config.label}" if run.config.label else ""
    files = write_results(out, rows, suffix)
    name = ("accuracy_vs_slc" if run.task.kind == "classification" else "perplexity_vs_slc") + suffix + ".png"
    title = f"{run.config.model} on {run.config.task}" + (f" ({run.config.label})" if suffix else "")
    files.append(plot_metric_vs_slc(rows, out / name, title))
    if run.config.hw_report and not suffix:
        files.extend(hardware_report(run))
    run.say("wrote " + ", ".join(str(f) for f in files))


def hardware_report(run: Run) -> list:
    """Throughput and energy of the run's plans on the HyFlexPIM chip vs its baselines (no torch)."""
    try:
        from hyflexpim.hw.report_for_plans import report_for_plans
    except ImportError:
        return []
    plans = [run.plan("redistributed", run.config.importance.scorer, r) for r in run.config.plan.slc_rates]
    return report_for_plans(plans, run.ws.root, say=run.say)
