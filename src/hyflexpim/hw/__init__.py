"""The chip model: throughput, latency, energy and area of HyFlexPIM and its baselines, from a plan.

Needs no torch: a plan file or a bare model shape is enough.

    from hyflexpim.hw import evaluate
    r = evaluate("bert-base", "hyflexpim", seq_lens=[128, 512], slc_rate=0.10)
"""

from hyflexpim.hw.evaluate import BASELINES, DEFAULT_SEQ_LENS, compare, evaluate
from hyflexpim.hw.shapes import CATALOGUE, ModelShape, get_shape, uniform_plan
from hyflexpim.hw.spec import load_spec

__all__ = ["BASELINES", "CATALOGUE", "DEFAULT_SEQ_LENS", "ModelShape", "compare", "evaluate", "get_shape",
           "load_spec", "uniform_plan"]
