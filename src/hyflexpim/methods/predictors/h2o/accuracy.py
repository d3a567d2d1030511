"""The accuracy half of H2O: recent keys first, then the heavy hitters of the dense attention."""

from __future__ import annotations

import torch

from hyflexpim.methods.predictors.h2o.config import H2OAttentionConfig
from hyflexpim.sim.digital_attention import apply_mask, repeat_kv
from hyflexpim.sim.sparse_attention import Context, Predictor, distance, select


def score(query: torch.Tensor, key: torch.Tensor, cfg: H2OAttentionConfig, ctx: Context) -> torch.Tensor:
    B, H, Sq, Sk = query.shape[0], query.shape[1], query.shape[-2], key.shape[-2]
    k = repeat_kv(key, H // key.shape[1]).float()
    scores = torch.matmul(query.float(), k.transpose(-1, -2)) * ctx.scaling
    probs = torch.softmax(apply_mask(scores, ctx.valid, False), -1)
    # causal: the attention each key received from the earlier queries
    heavy = torch.cumsum(probs, dim=-2) - probs if ctx.causal else probs.sum(-2, keepdim=True).expand(B, H, Sq, Sk)
    valid = ctx.valid.expand(B, H, Sq, Sk)
    recent = select((-distance(Sq, Sk)).expand(B, H, Sq, Sk), valid, cfg.keep * cfg.recent, False, False) \
        if cfg.recent > 0 else torch.zeros_like(valid)
    return torch.where(recent, torch.tensor(float(Sq + 1)), heavy)  # recent first (heavy <= Sq), then heavy hitters


PREDICTOR = Predictor(score)
