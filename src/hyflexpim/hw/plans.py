"""Hardware numbers for the plans of a ``hyflexpim run`` (one plan per SLC rate), no torch.

Each plan is priced with the architecture it carries and on the run's chip (``spec``: the chip spec
whose accuracy the run measured), against the baselines as their own specs describe them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hyflexpim.chip.spec import Spec
from hyflexpim.hw.evaluate import BASELINES, DEFAULT_SEQ_LENS, compare, compare_modes
from hyflexpim.hw.results import HwResult
from hyflexpim.plan import AttentionPlan, Plan


def price_plans(plans: list[Plan], spec: Spec | str = "hyflexpim", say: Callable[[str], None] = print,
                seq_lens: Sequence[int] = DEFAULT_SEQ_LENS,
                baselines: Sequence[str | Spec] = BASELINES) -> list[list[HwResult]]:
    """``compare`` for every plan (HyFlexPIM on ``spec`` first, then the baselines; a decoder's in both modes,
    prefill then generation, each result labelled by ``mode``); one line per plan and mode on ``say``."""
    cache: dict[Any, Spec] = {}
    out = []
    for plan in plans:
        res = compare_modes(plan, seq_lens, spec=spec, baselines=baselines, specs_cache=cache)
        for hy, ref in _pairs(res):
            info = hy.info
            say(f"hw{'' if hy.mode == 'encoder' else ' ' + str(hy.mode)}: "
                f"SLC {info.slc_weight_fraction:.0%} of weights: "
                f"{hy.throughput_tok_s[0] / ref.throughput_tok_s[0]:.2f}x throughput, "
                f"{hy.tops_per_w[0] / ref.tops_per_w[0]:.2f}x TOPS/W over all-SLC at L={seq_lens[0]} "
                f"({getattr(info, 'chips', '')} chip(s), {getattr(info, 'cells_per_weight_mlc', '')} cells per MLC "
                "weight)")
        hy = res[0]
        ref_slc = next((r for r in res if r.key == "all_slc"), None)
        if ref_slc is not None and plan.attention.sparse:  # and over the dense design HyFlexPIM set out from
            dense = plan.model_copy(update={"attention": AttentionPlan()})
            g = 0 if hy.mode == "prefill" else 128  # the same mode as hy (compare's default gen_tokens)
            base = compare(dense, seq_lens, spec=spec, baselines=("all_slc",), specs_cache=cache, gen_tokens=g)[1]
            hy = hy.replace(gain_over_dense_all_slc=[a / b for a, b in zip(hy.throughput_tok_s, base.throughput_tok_s)])
            res[0] = hy
            say(f"hw{'' if hy.mode == 'encoder' else ' ' + str(hy.mode)}: with {plan.attention.kind} attention "
                f"keeping {plan.attention.keep:.0%}: "
                + ", ".join(f"{g:.2f}x at L={L}" for g, L in zip(hy.gain_over_dense_all_slc or (), seq_lens))
                + " throughput over dense all-SLC (all-SLC above runs the same sparse attention)")
        out.append(res)
    return out


def _pairs(res: list[HwResult]) -> Iterator[tuple[HwResult, HwResult]]:
    """(HyFlexPIM, all-SLC) of each mode."""
    for mode in dict.fromkeys(r.mode for r in res):
        hy = next(r for r in res if r.mode == mode)
        ref = next((r for r in res if r.mode == mode and r.key == "all_slc"), None)
        if ref is not None:
            yield hy, ref
