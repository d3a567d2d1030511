"""The accuracy half of SpAtten: the running token importance lives in ``Context.state`` (shared by the layers of
one forward), updated after each layer's exact attention (``observe``)."""

from __future__ import annotations

import torch

from hyflexpim.methods.predictors.spatten.config import SpAttenAttentionConfig
from hyflexpim.sim.sparse_attention import Context, Predictor, select, token_valid


def score(query: torch.Tensor, key: torch.Tensor, cfg: SpAttenAttentionConfig, ctx: Context) -> torch.Tensor:
    B, H, Sq, Sk = query.shape[0], query.shape[1], query.shape[-2], key.shape[-2]
    tok = token_valid(ctx, (B, H, Sq, Sk))
    imp = ctx.state.get("importance", torch.zeros(B, Sk))
    alive = ctx.state.get("alive", torch.ones(B, Sk, dtype=torch.bool))
    alive_imp = torch.where(alive, imp, torch.tensor(-torch.inf))  # keep's share of all tokens, among the alive
    kept = select(alive_imp[:, None, None, :], tok[:, None, None, :], cfg.keep, False, False)[:, 0, 0]
    ctx.state["alive"] = kept
    score = torch.where(kept, imp, torch.tensor(-torch.inf))  # pruned tokens are never attended again
    return score[:, None, None, :].expand(B, H, Sq, Sk)


def observe(cfg: SpAttenAttentionConfig, ctx: Context, probs: torch.Tensor, chosen: torch.Tensor) -> None:
    imp = probs.float().sum((1, 2))  # attention received by each key: over heads and queries
    ctx.state["importance"] = ctx.state.get("importance", torch.zeros_like(imp)) + imp


PREDICTOR = Predictor(score, observe=observe)
