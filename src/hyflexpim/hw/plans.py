"""Hardware numbers for the plans of a ``hyflexpim run`` (one plan per SLC rate), no torch.

Each plan is priced with the architecture it carries and on the run's chip (``spec``: the chip spec
whose accuracy the run measured), against the baselines as their own specs describe them.
"""

from __future__ import annotations

from typing import Callable

from hyflexpim.chip.spec import Spec
from hyflexpim.hw.evaluate import BASELINES, DEFAULT_SEQ_LENS, compare
from hyflexpim.plan import Plan


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
    return out
