"""The paper's digital-PIM attention datapath: INT8 Q·Kᵀ, 12-bit probabilities × 8-bit V (the precisions the
chip spec's ``digital`` section fixes unless set; ``DigitalAttentionConfig.to_chip`` is what the cost side prices).
The datapath's kernels are shared with every sparse kind's exact part: hyflexpim.sim.digital_attention."""

from hyflexpim.config.methods import AttentionMethod

METHODS = (AttentionMethod(
    kind="digital",  # hardware.attention.kind
    package=__name__,
    config="config:DigitalAttentionConfig",
    accuracy="accuracy:enable",
),)
