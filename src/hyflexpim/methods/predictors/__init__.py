"""Relevance predictors of dynamic sparse attention, one folder each (registered in hyflexpim.config.methods)."""
