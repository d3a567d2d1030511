"""ClusterKV-style relevance prediction: k-means over each head's keys, a query scores a cluster by its centroid,
whole clusters are kept in order of score up to the keep budget (ClusterKV, Liu et al. 2024, arXiv:2412.03213)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="cluster",  # hardware.attention.kind
    prediction_kind="cluster",  # the chip's prediction.kind
    package=__name__,
    config="config:ClusterAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
    cost="cost:PREDICTOR",
),)
