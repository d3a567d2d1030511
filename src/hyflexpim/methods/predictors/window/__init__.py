"""The trivial baseline: the keys nearest the query (encoders) or the most recent ones (decoders), plus the first
token (StreamingLLM-style). A fixed pattern: the chip predicts nothing (prediction kind ``none``)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="window",  # hardware.attention.kind
    package=__name__,
    config="config:WindowAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
),)
