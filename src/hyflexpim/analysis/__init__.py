"""Attention-pattern analysis: streamed per-layer, per-head metrics, sparsity profiles, PIM-noise effects."""

from hyflexpim.analysis.analyze import AttentionReport, analyze_attention

__all__ = ["AttentionReport", "analyze_attention"]
