"""The accuracy half of Quest: every key of a page scores the page's upper bound."""

from __future__ import annotations

import torch

from hyflexpim.methods.predictors.quest.config import QuestAttentionConfig
from hyflexpim.sim.digital_attention import repeat_kv
from hyflexpim.sim.sparse_attention import Context, Predictor, token_valid


def score(query: torch.Tensor, key: torch.Tensor, cfg: QuestAttentionConfig, ctx: Context) -> torch.Tensor:
    B, Hk, Sk, D = key.shape
    H, Sq = query.shape[1], query.shape[-2]
    P = cfg.page
    pages = -(-Sk // P)
    tok = token_valid(ctx, (B, H, Sq, Sk))[:, None, :, None]  # [B, 1, Sk, 1]
    pad = pages * P - Sk
    k = repeat_kv(key, H // Hk).float()
    kmax = torch.where(tok, k, torch.tensor(-torch.inf))
    kmin = torch.where(tok, k, torch.tensor(torch.inf))
    if pad:
        kmax = torch.nn.functional.pad(kmax, (0, 0, 0, pad), value=-torch.inf)
        kmin = torch.nn.functional.pad(kmin, (0, 0, 0, pad), value=torch.inf)
    kmax = kmax.reshape(B, H, pages, P, D).amax(3)
    kmin = kmin.reshape(B, H, pages, P, D).amin(3)
    empty = ~torch.isfinite(kmax).all(-1)  # pages of padding only
    kmax, kmin = torch.nan_to_num(kmax, neginf=0.0), torch.nan_to_num(kmin, posinf=0.0)
    q = query.float()
    bound = q.clamp_min(0) @ kmax.transpose(-1, -2) + q.clamp_max(0) @ kmin.transpose(-1, -2)  # [B, H, Sq, pages]
    bound = bound.masked_fill(empty[:, :, None, :], torch.finfo(torch.float32).min)
    own = (torch.arange(Sq) + (Sk - Sq)) // P  # the query's own page
    bound = bound.scatter(-1, own.view(1, 1, Sq, 1).expand(B, H, Sq, 1), torch.finfo(torch.float32).max)
    return bound.repeat_interleave(P, dim=-1)[..., :Sk]


PREDICTOR = Predictor(score)
