"""Rank policy ``learned``: full rank at decomposition, then each matrix's rank is learned during redistribution by
soft thresholds on its singular values towards ``decompose.budget`` (``hyflexpim.algo.soft_rank`` is the
machinery; ``hooks.py`` is what the redistribution step calls; no price of its own)."""

from hyflexpim.config.methods import RankMethod

METHODS = (RankMethod(name="learned", package=__name__, policy="accuracy:LEARNED", hooks="hooks:HOOKS"),)
