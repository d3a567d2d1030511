"""The accuracy half of the oracle: the exact Q·Kᵀ is the score."""

from __future__ import annotations

import torch

from hyflexpim.sim.sparse_attention import Context, Predictor, exact_scores


def score(query: torch.Tensor, key: torch.Tensor, cfg: object, ctx: Context) -> torch.Tensor:
    return exact_scores(query, key)


PREDICTOR = Predictor(score, logits=True)
