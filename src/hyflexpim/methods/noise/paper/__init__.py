"""The HyFlexPIM paper's noise: each slice multiplied by (1 + σ·N(0,1)), σ per cell width (SLC ideal by default)."""

from hyflexpim.config.methods import NoiseMethod

METHODS = (NoiseMethod(kind="paper", package=__name__, config="accuracy:PaperNoiseConfig",
                       accuracy="accuracy:PaperNoise", code_std="accuracy:code_std", describe="accuracy:describe",
                       cost=None),)
