"""Sanger (MICRO 2021): Q·Kᵀ estimated with Q and K quantized to ``bits`` bits; keep the top share, or (Sanger's own
rule) every key whose estimated probability reaches ``threshold`` (its configurations use 2e-3 and 2e-2)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="sanger",  # hardware.attention.kind
    prediction_kind="low_bit",  # the chip's prediction.kind
    package=__name__,
    config="config:SangerAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
    cost="cost:PREDICTOR",
),)
