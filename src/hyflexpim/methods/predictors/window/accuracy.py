"""The accuracy half of the window: a key scores minus its distance to the query."""

from __future__ import annotations

import torch

from hyflexpim.sim.sparse_attention import Context, Predictor, distance


def score(query: torch.Tensor, key: torch.Tensor, cfg: object, ctx: Context) -> torch.Tensor:
    return (-distance(query.shape[-2], key.shape[-2])).expand(query.shape[0], query.shape[1], -1, -1)


PREDICTOR = Predictor(score)
