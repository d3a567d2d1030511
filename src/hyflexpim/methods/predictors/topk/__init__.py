"""The oracle: the exact scores Q·Kᵀ choose the keys (the ceiling of every predictor); on the chip every Q·Kᵀ at
``digital.qk_bits`` before the selection (the ``exact`` prediction kind, priced here)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="topk",  # hardware.attention.kind
    package=__name__,
    config="config:TopKAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
    prediction_kind="exact",  # the chip's prediction.kind this folder prices
    cost="cost:PREDICTOR",
),)
