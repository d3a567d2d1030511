"""SpAtten (HPCA 2021) cascade token pruning: a key token's importance is the attention it has received, summed over
heads and queries of every earlier layer; each sparse layer keeps ``keep`` of the sequence's tokens, the most
important of those still alive, and a pruned token never comes back. The first ``dense_layers`` (1) layers are
dense, to have an importance at all. SpAtten's per-layer schedule and its head pruning are not in the abstracts:
one keep for every layer, no heads pruned. On the chip: one add per entry into the token importance
(``accumulated``, priced here)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="spatten",  # hardware.attention.kind
    package=__name__,
    config="config:SpAttenAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
    prediction_kind="accumulated",  # the chip's prediction.kind this folder prices
    cost="cost:PREDICTOR",
),)
