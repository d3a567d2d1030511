"""Hardware numbers for the plans of a ``hyflexpim run`` (one plan per SLC rate), no torch.

Each plan is priced with the architecture it carries and on the run's chip (``spec``: the chip spec
whose accuracy the run measured), against the baselines as their own specs describe them.
"""

from __future__ import annotations

from typing import Callable

from hyflexpim.chip.spec import Spec
from hyflexpim.hw.evaluate import BASELINES, DEFAULT_SEQ_LENS, compare
from hyflexpim.plan import AttentionPlan, Plan


def price_plans(plans: list[Plan], spec: Spec | str = "hyflexpim", say: Callable[[str], None] = print,
                seq_lens=DEFAULT_SEQ_LENS, baselines=BASELINES) -> list[list[dict]]:
    """``compare`` for every plan (HyFlexPIM on ``spec`` first, then the baselines); one line each on ``say``."""
    cache: dict = {}
    out = []
    for plan in plans:
        res = compare(plan, seq_lens, spec=spec, baselines=baselines, specs_cache=cache)
        out.append(res)
        hy = res[0]
        ref = next((r for r in res if r["key"] == "all_slc"), None)
        if ref is not None:
            say(f"hw: SLC {hy['info']['slc_weight_fraction']:.0%} of weights: "
                f"{hy['throughput_tok_s'][0] / ref['throughput_tok_s'][0]:.2f}x throughput, "
                f"{hy['tops_per_w'][0] / ref['tops_per_w'][0]:.2f}x TOPS/W over all-SLC at L={seq_lens[0]} "
                f"({hy['info']['chips']} chip(s), {hy['info']['cells_per_weight_mlc']} cells per MLC weight)")
        if ref is not None and plan.attention.kind != "dense":  # and over the dense design HyFlexPIM set out from
            dense = plan.model_copy(update={"attention": AttentionPlan()})
            base = compare(dense, seq_lens, spec=spec, baselines=("all_slc",), specs_cache=cache)[1]
            hy["gain_over_dense_all_slc"] = [a / b for a, b in zip(hy["throughput_tok_s"], base["throughput_tok_s"])]
            say(f"hw: with {plan.attention.kind} attention keeping {plan.attention.keep:.0%}: "
                + ", ".join(f"{g:.2f}x at L={L}" for g, L in zip(hy["gain_over_dense_all_slc"], seq_lens))
                + " throughput over dense all-SLC (all-SLC above runs the same sparse attention)")
    return out
