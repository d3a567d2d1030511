"""An attention-only dynamic-sparse accelerator (``kind: attention``, HARDSEA-like): it prices the self-attention
alone, so its baselines are priced on that work too (``scope``)."""

from hyflexpim.config.methods import DesignMethod

METHODS = (DesignMethod(kind="attention", package=__name__, spec="hyflexpim.chip.spec:AttentionSpec",
                        cost="cost:price", scope="self-attention only"),)
