"""Quest (ICML 2024) page selection: keys in pages of ``page`` (16) tokens; a page's score for a query is the upper
bound Σ_d max(q_d·min_d, q_d·max_d) over its keys' element-wise min/max; the query's own page always kept; the
first ``dense_layers`` (2, as in Quest's code) dense. On the chip: 2 head-size MACs per query and page
(``page_bound``, priced here)."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="quest",  # hardware.attention.kind
    package=__name__,
    config="config:QuestAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
    prediction_kind="page_bound",  # the chip's prediction.kind this folder prices
    cost="cost:PREDICTOR",
),)
