"""The accuracy half of the PQ predictor: keys rebuilt from their nearest centroid in each sub-space, scored by Q·K̂ᵀ.

Only the order matters; ``predictor_noise`` perturbs the centroids as analog ReRAM would store them (relative σ, one
draw per layer and seed), and never touches the exact attention.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from hyflexpim.errors import UserError
from hyflexpim.methods.predictors.pq.config import PQAttentionConfig
from hyflexpim.sim.sparse_attention import Context, Predictor, exact_scores


def pq_keys(key: torch.Tensor, books: torch.Tensor) -> torch.Tensor:
    """Keys [B, Hkv, S, D] rebuilt from their nearest centroid in each sub-space; books [Hkv, M, K, D/M]."""
    B, Hk, S, D = key.shape
    M, K, d = books.shape[1:]
    x = key.reshape(B, Hk, S, M, d).permute(1, 3, 0, 2, 4).reshape(Hk, M, B * S, d)  # [Hk, M, N, d]
    dist = torch.cdist(x.float(), books.float())  # [Hk, M, N, K]
    codes = dist.argmin(-1)  # the "clustering" step: nearest centroid, a WTA
    rebuilt = torch.gather(books.unsqueeze(2).expand(Hk, M, B * S, K, d), 3,
                           codes[..., None, None].expand(Hk, M, B * S, 1, d)).squeeze(3)
    return rebuilt.reshape(Hk, M, B, S, d).permute(2, 0, 3, 1, 4).reshape(B, Hk, S, D).to(key.dtype)


def score(query: torch.Tensor, key: torch.Tensor, cfg: PQAttentionConfig, ctx: Context) -> torch.Tensor:
    if query.shape[-1] % cfg.subspaces:
        raise UserError(f"hardware.attention.subspaces: {cfg.subspaces} must divide the head size {query.shape[-1]}")
    if ctx.books is None:
        raise UserError("pq attention needs codebooks: fit them with hyflexpim.sim.pq_codebooks."
                        "fit_pq_codebooks (or give hardware.attention.codebooks)")
    return exact_scores(query, pq_keys(key, ctx.books))


def layer_books(cfg: PQAttentionConfig, codebooks: dict[int, torch.Tensor] | None, layers: Iterable[int],
                generator: torch.Generator, strict: bool = True) -> dict[int, torch.Tensor]:
    """The codebooks of each of ``layers`` as the analog cells hold them (``predictor_noise``: one draw per layer,
    in order); ``codebooks`` None: read ``cfg.codebooks``. ``strict``: a layer without a codebook is an error."""
    if codebooks is None:
        if cfg.codebooks is None:
            raise UserError("pq attention needs codebooks: give hardware.attention.codebooks (a file written by "
                            "save_codebooks) or call enable_sparse_attention(..., codebooks=fit_pq_codebooks(...))")
        from hyflexpim.methods.predictors.pq.codebooks import load_codebooks

        codebooks = load_codebooks(cfg.codebooks)
    out = {}
    for layer in layers:
        books = codebooks.get(layer)
        if books is None:
            if strict:
                raise UserError(f"pq attention: no codebook for layer {layer}")
            continue
        if cfg.predictor_noise > 0:  # the centroids as analog cells hold them: one draw per seed
            books = books * (1 + cfg.predictor_noise * torch.randn(books.shape, generator=generator))
        out[layer] = books
    return out


PREDICTOR = Predictor(score, logits=True, books=layer_books)  # q·k̂ is a logit: thresholds apply
