"""Device-level RRAM noise: discrete conductance levels, programming noise, relaxation, read noise, faults
(``accuracy.py``; ``calibration.py`` prints and checks its default calibration)."""

from hyflexpim.config.methods import NoiseMethod

METHODS = (NoiseMethod(kind="levels", package=__name__, config="accuracy:LevelsNoiseConfig",
                       accuracy="accuracy:LevelsNoise", describe="accuracy:describe",
                       cost=None),)
