"""The ``learned`` policy at decomposition: every matrix keeps its full rank (its hooks learn the rank later)."""

from hyflexpim.algo.rank import RankPolicy

LEARNED = RankPolicy(lambda shape, S, value, name: min(shape), uses_budget=True,
                     description="full rank at decomposition; redistribution learns each matrix's rank by soft "
                                 "thresholding towards decompose.budget (hyflexpim.algo.soft_rank)")
