"""The price step: throughput and energy of the run's main plans (their attention block included) on the run's own
chip (``hardware.chip()``: the spec whose accuracy the run measured) against its baselines, written under ``hw/``
(``hw/<label>/`` for a labelled variant). The one place the pipeline calls the cost side (``hyflexpim.hw``); the
report step reads what it returns. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hyflexpim.hw.plans import price_plans
from hyflexpim.plan import Plan
from hyflexpim.report.hw_plots import plot_gain_vs_slc, write_plots
from hyflexpim.report.hw_tables import rows, write_table
from hyflexpim.report.results import write_set


@dataclass
class Priced:
    """The price step's result: the cost model's results per plan, the flat table (``hw_results.csv``'s rows) and
    the files written."""

    results: list
    table: list[dict]
    files: list[Path]

    def hyflexpim_at(self, rate: float) -> dict | None:
        """The first HyFlexPIM row at this SLC rate (a decoder's prefill row first), or None."""
        hits = [x for x in self.table if x["design"] == "hyflexpim" and float(x["slc_rate"]) == rate]
        return hits[0] if hits else None


def price(run, plans: list[Plan]) -> Priced | None:
    """Price ``plans`` (the main curve's, one per SLC rate of the run) and write the tables and figures."""
    if not plans:
        return None
    c = run.config
    results = price_plans(plans, c.hardware.chip(), say=run.say)
    table = [row for res in results for row in rows(res)]
    chip = f"{plans[0].architecture.name} ({c.model}), {c.hardware.encoding} encoding"
    if plans[0].attention.sparse:
        chip += f", {plans[0].attention.kind} attention keeping {plans[0].attention.keep:.0%}"
    # against the sequence length and the energy breakdown: at the plan nearest 10 % SLC (the paper's point)
    at = min(range(len(plans)), key=lambda i: abs(c.plan.slc_rates[i] - 10))
    title = f"{chip}; HyFlexPIM at {c.plan.slc_rates[at]:g} % SLC"

    def write(tmp):  # the table, its JSON and the figures: all or nothing (report.results.write_set)
        return [*write_table(table, results, tmp), plot_gain_vs_slc(table, tmp / "hw_gain_vs_slc.png", chip),
                *write_plots(results[at], tmp, title)]

    return Priced(results, table, write_set(run.files.hw(c.label), write))
