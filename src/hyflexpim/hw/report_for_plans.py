"""Hardware numbers for the plans of a ``hyflexpim run`` (one plan per SLC rate), no torch.

Writes ``hw/hw_results.csv``, ``hw/hw_results.json`` and ``hw/hw_gain_vs_slc.png`` under ``out``.
The model's attention dimensions come from the shape catalogue when the plan's model name
matches an entry whose shapes agree with the plan, otherwise they are inferred from the plan
(head size 64 assumed; decoder if the name looks like one or the plan has a vocabulary-sized head).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

from hyflexpim.atomic import write_atomic
from hyflexpim.errors import UserError
from hyflexpim.hw.evaluate import DEFAULT_SEQ_LENS, compare
from hyflexpim.hw.report import rows, write_table
from hyflexpim.hw.shapes import CATALOGUE, ModelShape, check_plan_against_shape, shape_from_plan
from hyflexpim.plan import Plan

DECODER_HINTS = ("gpt", "llama", "smol", "mistral", "qwen", "opt", "phi", "gemma")


def shape_for(plan: Plan) -> ModelShape:
    name = plan.model_name.lower().replace("_", "-")
    flat = name.replace("-", "")
    for key, shape in CATALOGUE.items():
        if key in name or key.replace("-", "") in flat:
            try:
                check_plan_against_shape(plan, shape)
                return shape
            except UserError:
                pass
    big_head = any(m.role == "head" and m.shape[0] > 10_000 for m in plan.matrices)
    return shape_from_plan(plan, decoder=big_head or any(h in name for h in DECODER_HINTS))


def report_for_plans(plans: list[Plan], out: Path, say: Callable[[str], None] = print,
                     seq_lens=DEFAULT_SEQ_LENS) -> list[Path]:
    """Run HyFlexPIM and its baselines for every plan; return the files written."""
    if not plans:
        return []
    shape = shape_for(plans[0])
    cache: dict = {}
    results, table = [], []
    for plan in plans:
        res = compare(plan, seq_lens, shape=shape, specs_cache=cache)
        for r in res:
            r["slc_rate"] = res[0]["info"]["slc_weight_fraction"]
        results.append(res)
        table += rows(res)
        hy, ref = res[0], next(r for r in res if r["key"] == "all_slc")
        say(f"hw: SLC {hy['slc_rate']:.0%} of weights: {hy['throughput_tok_s'][0] / ref['throughput_tok_s'][0]:.2f}x "
            f"throughput, {hy['tops_per_w'][0] / ref['tops_per_w'][0]:.2f}x TOPS/W over all-SLC at L={seq_lens[0]} "
            f"({hy['info']['chips']} chip(s))")
    folder = Path(out) / "hw"
    files = write_table(table, results, folder)
    files.append(_plot_gain(table, folder / "hw_gain_vs_slc.png", shape.name))
    return files


def _plot_gain(table: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hy = [r for r in table if r["design"] == "hyflexpim"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, metric, label in ((axes[0], "throughput_vs_all_slc", "throughput gain over all-SLC"),
                              (axes[1], "efficiency_vs_all_slc", "TOPS/W gain over all-SLC")):
        for L in sorted({r["seq_len"] for r in hy}):
            pts = sorted((r["slc_rate"] * 100, r[metric]) for r in hy if r["seq_len"] == L)
            ax.plot(*zip(*pts), marker="o", label=f"L={L}")
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xlabel("SLC share of weights (%)")
        ax.set_ylabel(label)
    axes[0].set_title(title)
    axes[1].legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return write_atomic(path, buf.getvalue())
