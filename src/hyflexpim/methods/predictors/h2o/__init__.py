"""H2O (NeurIPS 2023) heavy hitters: ``recent`` (0.5) of the budget to the nearest / most recent keys, the rest to
the keys with the largest attention accumulated by the earlier queries of the same layer (all queries in an
encoder). The accumulated attention is the dense one (the exact eviction order of a running cache is not
modelled): an upper bound on H2O. Priced as SpAtten's ``accumulated`` (no prediction kind of its own)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="h2o",  # hardware.attention.kind
    package=__name__,
    config="config:H2OAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
),)
