"""How good a relevance predictor is: recall of the exact top-k keys (the evaluation Sparsefinder uses), per
keep fraction, over a model's real attention."""

from __future__ import annotations

import torch

from hyflexpim.sim.digital_attention import float_attention, valid_keys
from hyflexpim.sim.sparse_attention import Context, attention_hook, exact_scores, predictor_of, select


def top_k_recall(pred: torch.Tensor, exact: torch.Tensor, valid: torch.Tensor, keep: float) -> tuple[int, float]:
    """(rows, Σ recall): the share of each row's exact top-k keys that the prediction also ranks in its top k
    (k = ceil(keep · valid keys)); nothing forced in."""
    a = select(pred, valid, keep, False, False)
    b = select(exact, valid, keep, False, False)
    hit = (a & b).sum(-1).float()
    total = b.sum(-1).float().clamp_min(1)
    ok = valid.expand_as(pred).any(-1)
    return int(ok.sum()), float((hit / total)[ok].sum())


def predictor_recall(model, batches, cfg, books=None, keeps=(0.5, 0.25, 0.12), seed: int = 0) -> dict[float, float]:
    """Mean recall of the exact top-k keys by the kind ``cfg``'s predictor over ``batches`` (every predicted
    layer, head and real query row), per keep fraction. The model's outputs (and what a cascade accumulates)
    are its dense ones."""
    acc = {k: [0, 0.0] for k in keeps}
    g = torch.Generator().manual_seed(seed)
    noisy = {}
    predictor = predictor_of(cfg.kind)
    if books is not None and predictor.books is not None:  # the kind's data per layer (PQ: noisy codebooks)
        noisy = predictor.books(cfg, books, list(books), g, strict=False)
    state = {}

    def hook(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        causal = bool(getattr(module, "is_causal", False))
        valid = valid_keys(attention_mask, (query.shape[-2], key.shape[-2]), causal)
        if state.get("mask") is not None:  # drop padded queries
            valid = valid & state["mask"].bool()[:, None, :, None]
        layer = module._hyflexpim_layer
        b = noisy.get(layer)
        scale = query.shape[-1] ** -0.5 if scaling is None else scaling
        exact = exact_scores(query, key)
        probs = float_attention(query, key, value, attention_mask, scaling, causal)[1]
        for k in keeps:
            ctx = Context(valid, scale, layer, b, state["cascade"].setdefault(k, {}), causal)
            if layer >= cfg.dense_layers:  # the dense layers predict nothing
                n, r = top_k_recall(predictor.score(query, key, cfg.model_copy(update={"keep": k}), ctx), exact,
                                    valid, k)
                acc[k][0] += n
                acc[k][1] += r
            if predictor.observe is not None:  # a cascade sees the dense model's attention here
                predictor.observe(cfg, ctx, probs, valid)
        return float_attention(query, key, value, attention_mask, scaling, causal)

    with attention_hook(model, "hyflexpim_recall", hook), torch.inference_mode():
        for batch in batches:
            state["mask"] = batch.get("attention_mask")
            state["cascade"] = {}
            model(**{k: v for k, v in batch.items() if k != "labels"})
    return {k: r / max(n, 1) for k, (n, r) in acc.items()}
