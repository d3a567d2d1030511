"""The published relevance predictors HARDSEA is measured against, re-implemented from their papers as
sparse-attention kinds (each a config class plus a ``register_predictor`` call; selection, the exact part
and the cost side are shared with ``topk`` / ``pq`` / ``window`` in ``hyflexpim.sim.sparse_attention``):

- ``sanger``  — Sanger (MICRO 2021): Q·Kᵀ estimated with Q and K quantized to ``bits`` (4) bits, symmetric, per
                head; keep the top share, or (Sanger's own rule) every key whose estimated probability reaches
                ``threshold`` (its configs use 2e-3 and 2e-2).
- ``spatten`` — SpAtten (HPCA 2021) cascade token pruning: a key token's importance is the attention it has
                received, summed over heads and queries of every earlier layer; each sparse layer keeps
                ``keep`` of the sequence's tokens, the most important of those still alive, and a pruned
                token never comes back. The first
                ``dense_layers`` (1) layers are dense, to have an importance at all. SpAtten's per-layer
                schedule and its head pruning are not in the abstracts: one keep for every layer, no heads
                pruned (with one keep, the token set is chosen at the first sparse layer and then kept).
- ``quest``   — Quest (ICML 2024) page selection: keys in pages of ``page`` (16) tokens; a page's score for a
                query is the upper bound Σ_d max(q_d·min_d, q_d·max_d) over its keys' element-wise min/max; the
                query's own page always kept; the first ``dense_layers`` (2, as in Quest's code) dense.
- ``h2o``     — H2O (NeurIPS 2023) heavy hitters: ``recent`` (0.5) of the budget to the nearest / most recent
                keys, the rest to the keys with the largest attention accumulated by the earlier queries of
                the same layer (all queries in an encoder). The accumulated attention is the dense one
                (the exact eviction order of a running cache is not modelled): an upper bound on H2O.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from hyflexpim.sim.digital_attention import _repeat_kv, apply_mask
from hyflexpim.sim.sparse_attention import SparseAttentionBase, distance, register_predictor, select


class SpAttenAttentionConfig(SparseAttentionBase):
    """Cascade token pruning by accumulated attention (SpAtten)."""

    config_name = "hardware.attention (spatten)"
    kind: Literal["spatten"] = "spatten"
    dense_layers: int = Field(1, ge=1, description="the first layers are dense: they give the first importance")

    def prediction(self) -> dict:
        return {"kind": "accumulated"}


class QuestAttentionConfig(SparseAttentionBase):
    """Page selection by min/max key bounds (Quest)."""

    config_name = "hardware.attention (quest)"
    kind: Literal["quest"] = "quest"
    page: int = Field(16, ge=1, description="tokens per page")
    dense_layers: int = Field(2, ge=0, description="the first layers are dense (Quest's code: 2)")

    def prediction(self) -> dict:
        return {"kind": "page_bound", "page": self.page}


class H2OAttentionConfig(SparseAttentionBase):
    """Heavy hitters + recent keys (H2O)."""

    config_name = "hardware.attention (h2o)"
    kind: Literal["h2o"] = "h2o"
    recent: float = Field(0.5, ge=0, le=1, description="share of the budget given to the nearest / most recent keys")

    def prediction(self) -> dict:
        return {"kind": "accumulated"}


def _token_valid(ctx, shape) -> torch.Tensor:
    """[B, Sk]: keys some query may see (padding excluded)."""
    return ctx.valid.expand(shape).any(1).any(1)


def _spatten_score(query, key, cfg, ctx):
    B, H, Sq, Sk = query.shape[0], query.shape[1], query.shape[-2], key.shape[-2]
    tok = _token_valid(ctx, (B, H, Sq, Sk))
    imp = ctx.state.get("importance", torch.zeros(B, Sk))
    alive = ctx.state.get("alive", torch.ones(B, Sk, dtype=torch.bool))
    alive_imp = torch.where(alive, imp, torch.tensor(-torch.inf))  # keep's share of all tokens, among the alive
    kept = select(alive_imp[:, None, None, :], tok[:, None, None, :], cfg.keep, False, False)[:, 0, 0]
    ctx.state["alive"] = kept
    score = torch.where(kept, imp, torch.tensor(-torch.inf))  # pruned tokens are never attended again
    return score[:, None, None, :].expand(B, H, Sq, Sk)


def _spatten_observe(cfg, ctx, probs, chosen):
    imp = probs.float().sum((1, 2))  # attention received by each key: over heads and queries
    ctx.state["importance"] = ctx.state.get("importance", torch.zeros_like(imp)) + imp


def _quest_score(query, key, cfg, ctx):
    B, Hk, Sk, D = key.shape
    H, Sq = query.shape[1], query.shape[-2]
    P = cfg.page
    pages = -(-Sk // P)
    tok = _token_valid(ctx, (B, H, Sq, Sk))[:, None, :, None]  # [B, 1, Sk, 1]
    pad = pages * P - Sk
    k = _repeat_kv(key, H // Hk).float()
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


def _h2o_score(query, key, cfg, ctx):
    B, H, Sq, Sk = query.shape[0], query.shape[1], query.shape[-2], key.shape[-2]
    k = _repeat_kv(key, H // key.shape[1]).float()
    scores = torch.matmul(query.float(), k.transpose(-1, -2)) * ctx.scaling
    probs = torch.softmax(apply_mask(scores, ctx.valid, False), -1)
    # causal: the attention each key received from the earlier queries
    heavy = torch.cumsum(probs, dim=-2) - probs if ctx.causal else probs.sum(-2, keepdim=True).expand(B, H, Sq, Sk)
    valid = ctx.valid.expand(B, H, Sq, Sk)
    recent = select((-distance(Sq, Sk)).expand(B, H, Sq, Sk), valid, cfg.keep * cfg.recent, False, False) \
        if cfg.recent > 0 else torch.zeros_like(valid)
    return torch.where(recent, torch.tensor(float(Sq + 1)), heavy)  # recent first (heavy <= Sq), then heavy hitters


register_predictor("spatten", _spatten_score, observe=_spatten_observe)
register_predictor("quest", _quest_score)
register_predictor("h2o", _h2o_score)

BASELINE_CONFIGS = {"spatten": SpAttenAttentionConfig,
                    "quest": QuestAttentionConfig, "h2o": H2OAttentionConfig}
