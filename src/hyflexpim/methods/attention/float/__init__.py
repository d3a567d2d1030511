"""The model's own attention in floating point (an idealisation): nothing to switch on, nothing on the chip to set
(a dense kind has no ``accuracy`` or ``cost`` half: the model runs as it is; the digital datapath is priced by the
chip model as for every dense plan)."""

from hyflexpim.config.methods import AttentionMethod

METHODS = (AttentionMethod(
    kind="float",  # hardware.attention.kind
    package=__name__,
    config="config:FloatAttentionConfig",
),)
