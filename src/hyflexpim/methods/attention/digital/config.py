"""The settings of the ``digital`` attention kind: the datapath's precisions (the base of every sparse kind's too,
so the class lives with the shared settings in hyflexpim.config.attention)."""

from hyflexpim.config.attention import DigitalAttentionConfig

__all__ = ["DigitalAttentionConfig"]
