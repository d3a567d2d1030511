"""Rank policies, one folder each (registered in hyflexpim.config.methods): ``static/`` (the policies that are a
formula over a matrix's shape and singular values, a few lines each) and ``learned/`` (with its training hooks)."""
