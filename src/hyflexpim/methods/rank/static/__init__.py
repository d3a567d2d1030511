"""The static rank policies: each matrix's rank is a formula over its shape and singular values, decided at
decomposition (no training hooks, no price of their own). They share one folder because each is a few lines."""

from hyflexpim.config.methods import RankMethod

METHODS = tuple(RankMethod(name=name, package=__name__, policy=f"accuracy:{name.upper()}")
                for name in ("hard_threshold", "full", "fixed", "ratio", "energy", "uniform", "energy_budget"))
