"""The chip model: throughput, latency, energy and area of HyFlexPIM and its baselines, from a plan.

Needs no torch: a plan file (which carries the model's architecture) or a catalogue model is enough.

    from hyflexpim.hw import evaluate
    r = evaluate("bert-base", "hyflexpim", seq_lens=[128, 512], slc_rate=10)   # percent
    r.throughput_tok_s[0], r.tops_per_w[1], r.info.chips, r.point(0).latency_s   # an HwResult (hyflexpim.hw.results)
"""

from hyflexpim.chip.spec import load_spec
from hyflexpim.hw.designs import COST_MODELS, register_cost_model
from hyflexpim.hw.evaluate import BASELINES, DEFAULT_SEQ_LENS, compare, compare_modes, evaluate
from hyflexpim.hw.results import CostPoint, HwResult, to_rows
from hyflexpim.hw.shapes import CATALOGUE, get_shape, uniform_plan

__all__ = ["BASELINES", "CATALOGUE", "COST_MODELS", "DEFAULT_SEQ_LENS", "CostPoint", "HwResult", "compare",
           "compare_modes", "evaluate", "get_shape", "load_spec", "register_cost_model", "to_rows", "uniform_plan"]
