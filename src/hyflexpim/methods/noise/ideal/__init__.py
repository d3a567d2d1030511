"""No noise at all: quantization only."""

from hyflexpim.config.methods import NoiseMethod

METHODS = (NoiseMethod(kind="ideal", package=__name__, config="accuracy:IdealNoiseConfig",
                       accuracy="accuracy:ideal_noise", code_std="accuracy:code_std", cost=None),)
