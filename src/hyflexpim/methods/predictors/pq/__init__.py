"""HARDSEA's product-quantization relevance prediction: each key is encoded by its nearest centroid in each of M
sub-spaces (codebooks fitted once, offline, by k-means on calibration keys: ``codebooks.fit_pq_codebooks``, which a
run calls through ``prepare``), and a query scores a key as Σ_m ⟨q_m, c_m[code_m(k)]⟩ — the dot product with the key
rebuilt from its centroids."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="pq",  # hardware.attention.kind
    prediction_kind="pq",  # the chip's prediction.kind
    package=__name__,
    config="config:PQAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
    cost="cost:PREDICTOR",
    prepare="prepare:fit_for_run",
),)
