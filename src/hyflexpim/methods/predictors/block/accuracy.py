"""The accuracy half of ``block``: it selects and computes the attention itself (``Predictor.attend``), with the
block kernels of hyflexpim.sim.block_sparse; no per-entry score."""

from __future__ import annotations

from hyflexpim.sim.block_sparse import block_sparse_attention
from hyflexpim.sim.sparse_attention import Predictor


def score(query: object, key: object, cfg: object, ctx: object) -> None:
    """Unused: ``attend`` selects the blocks."""
    return None


PREDICTOR = Predictor(score, attend=block_sparse_attention)
