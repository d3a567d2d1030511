"""Block-sparse attention: key blocks chosen per query block (Quest's min/max bound, the block's mean key, or the
exact mass), computed by a kernel that skips the rest (hyflexpim.sim.block_sparse, the shared kernels). Priced as
Quest's ``page_bound`` with one page per block, or as the oracle's ``exact`` for the exact mass: no prediction
kind of its own."""

from hyflexpim.config.methods import PredictorMethod

METHODS = (PredictorMethod(
    kind="block",  # hardware.attention.kind
    package=__name__,
    config="config:BlockAttentionConfig",
    accuracy="accuracy:PREDICTOR",
    prediction="cost:prediction",
),)
