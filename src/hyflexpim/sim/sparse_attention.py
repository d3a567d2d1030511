"""Dynamic sparse attention: predict which keys matter to each query, keep the top ones, compute exact
attention on the kept entries only (softmax over the kept keys), on the digital-PIM datapath.

The shared machinery of every sparse kind (each kind is a method folder, hyflexpim/methods/predictors/<name>/:
its settings in ``config.py``, its scorer, a :class:`Predictor`, in ``accuracy.py``; ``PREDICTORS`` fills itself
from the folders at its first read, ``hyflexpim.config.methods.fill_from``). The settings classes
``TopKAttentionConfig``, ``WindowAttentionConfig`` and ``PQAttentionConfig`` are re-exported here from their
folders for older callers; ``SparseAttentionBase`` and ``ThresholdAttentionBase`` (hyflexpim.config.attention) too.

Selection per query row: k = ceil(keep · valid keys) (at least 1) keys with the highest predicted
score among the valid ones (padding and causal masks respected); the first key and the query's own
position can be forced in (``keep_first``, ``keep_diagonal``). The exact part runs through
``hyflexpim.sim.digital_attention.digital_attention`` with the kept entries as a boolean mask
(``exact: float`` uses float attention instead). Vectorised: one sort per batch and head, no loop over
queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hyflexpim.config import Registry
from hyflexpim.config.attention import SparseAttentionBase, ThresholdAttentionBase
from hyflexpim.config.methods import fill_from, predictor_methods
from hyflexpim.errors import UserError
from hyflexpim.sim.digital_attention import (
    DigitalAttentionHandle,
    attention_hook,
    digital_attention,
    find_attention_modules,
    float_attention,
    repeat_kv,
    valid_keys,
)

SPARSE_IMPLEMENTATION = "hyflexpim_sparse"


# -- the predictors: a registry (kind -> Predictor) ------------------------------------------------------

@dataclass
class Context:
    """What a predictor may use besides Q and K: the valid keys [B|1, H|1, Sq, Sk], the attention scaling, the
    layer index, the kind's per-layer data (``Predictor.books``: PQ's codebooks), and ``state``, a dict shared by
    every layer of one enabled model (cascade pruning keeps its running token importance there; reset at the first
    layer of each forward)."""

    valid: torch.Tensor
    scaling: float
    layer: int = 0
    books: torch.Tensor | None = None
    state: dict = field(default_factory=dict)
    causal: bool = False


@dataclass(frozen=True)
class Predictor:
    """``score(query, key, cfg, ctx) -> [B, Hq, Sq, Sk]``: higher = more relevant (only the order is used, unless
    ``logits``: then the scores are attention logits and a probability ``threshold`` may select instead of top-k).
    ``observe(cfg, ctx, probs, chosen)``, if given, sees the exact attention's probabilities after each layer.
    ``attend(query, key, value, attention_mask, scaling, cfg, ctx, share, dropout, training) -> (out, kept entries)``,
    if given, selects and computes the attention itself (block kinds: a kernel that skips the dropped blocks);
    ``score`` is then unused. ``books(cfg, codebooks, layers, generator, strict=True) -> {layer: tensor}``, if given,
    is the kind's data per layer (``Context.books``; PQ: its codebooks as the analog cells hold them)."""

    score: Callable
    logits: bool = False
    observe: Callable | None = None
    attend: Callable | None = None
    books: Callable | None = None


# the predictor folders' scorers (``hyflexpim.config.methods.METHOD_PACKAGES``), at the first read
PREDICTORS: Registry[Predictor] = Registry("sparse-attention predictor",
                                           fill=fill_from(predictor_methods, lambda m: m.load("accuracy")))


def register_predictor(kind: str, score: Callable, logits: bool = False, observe: Callable | None = None,
                       replace: bool = False, attend: Callable | None = None) -> Predictor:
    return PREDICTORS.register(kind, Predictor(score, logits, observe, attend), replace)


def exact_scores(query, key) -> torch.Tensor:
    """Q·Kᵀ in float [B, Hq, Sq, Sk] (grouped key heads repeated)."""
    return torch.matmul(query.float(), repeat_kv(key, query.shape[1] // key.shape[1]).float().transpose(-1, -2))


def distance(sq: int, sk: int) -> torch.Tensor:
    """|i − j| [Sq, Sk] between query i (aligned to the last keys) and key j."""
    i = torch.arange(sq, dtype=torch.float32)[:, None] + (sk - sq)
    return (i - torch.arange(sk, dtype=torch.float32)[None, :]).abs()


def token_valid(ctx: Context, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """[B, Sk]: keys some query may see (padding excluded)."""
    return ctx.valid.expand(shape).any(1).any(1)


def predictor_of(kind: str) -> Predictor:
    """The predictor of an attention kind (a method folder's scorer, or one registered outside the folders)."""
    return PREDICTORS.get(kind)


def predicted_scores(cfg, query, key, ctx: Context | None = None) -> torch.Tensor:
    """Relevance of every key to every query [B, Hq, Sq, Sk] by the predictor of ``cfg.kind``."""
    if ctx is None:
        ctx = Context(valid_keys(None, (query.shape[-2], key.shape[-2]), False), query.shape[-1] ** -0.5)
    return predictor_of(cfg.kind).score(query, key, cfg, ctx)


def keep_count(valid: torch.Tensor, keep) -> torch.Tensor:
    """k per row: ceil(keep · valid keys), at least 1 [.., Sq, 1] (keep: a float, or per head [H, 1, 1])."""
    return torch.clamp(torch.ceil(keep * valid.sum(-1, keepdim=True).float()).long(), min=1)


def select(pred: torch.Tensor, valid: torch.Tensor, keep: float, keep_first: bool = True,
           keep_diagonal: bool = True, threshold: float | None = None, scaling: float = 1.0) -> torch.Tensor:
    """Boolean [B, H, Sq, Sk]: per row the ceil(keep · n_valid) valid keys with the highest ``pred`` (ties
    broken by position, so exactly that many) — or, with ``threshold``, the valid keys whose predicted attention
    probability softmax(pred · scaling) reaches it — plus the forced first key and diagonal. A key the predictor
    scores −inf is never kept (a pruned token), not even when forced."""
    B, H, Sq, Sk = pred.shape
    valid = allowed = valid.expand(B, H, Sq, Sk)
    k = keep_count(valid, keep)  # of the keys the mask allows; a predictor's -inf excludes a key outright
    valid = valid & ~torch.isneginf(pred)
    neg = torch.finfo(torch.float32).min
    p = torch.where(valid, pred.float(), torch.tensor(neg))
    if threshold is not None:
        prob = torch.softmax(torch.where(valid, pred.float() * scaling, torch.tensor(-torch.inf)), -1)
        chosen = (prob >= threshold) & valid
    else:
        order = torch.sort(p, dim=-1, descending=True, stable=True).indices  # ties broken by position: exactly k
        rank = torch.empty_like(order).scatter_(-1, order, torch.arange(Sk).expand_as(order).contiguous())
        chosen = (rank < k) & valid
    if keep_first:
        chosen[..., 0] |= valid[..., 0]
    if keep_diagonal:
        diag = torch.zeros(Sq, Sk, dtype=torch.bool)
        idx = torch.arange(Sq)
        diag[idx, idx + (Sk - Sq)] = True
        chosen |= diag & valid
    empty = ~chosen.any(-1, keepdim=True) & allowed.any(-1, keepdim=True)  # every key of a row pruned:
    chosen |= empty & allowed & (allowed.cumsum(-1) == 1)                  # keep its first allowed key
    return chosen


# -- the attention function -------------------------------------------------------------------------------

def sparse_attention(query, key, value, attention_mask, scaling, cfg, is_causal=False, books=None,
                     dropout=0.0, training=False, layer: int = 0, state: dict | None = None):
    """([B, Sq, Hq, D], probabilities) of attention restricted to the predicted top keys of each query.
    ``state`` (shared by the layers of one model) accumulates the kept and valid entry counts."""
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    state = {} if state is None else state
    valid = valid_keys(attention_mask, (query.shape[-2], key.shape[-2]), is_causal)
    predictor = predictor_of(cfg.kind)
    ctx = Context(valid, scaling, layer, books, state, is_causal)
    share = state.get("layer_keep", {}).get(layer, cfg.keep)  # per head from a sparsity profile, if given
    if isinstance(share, torch.Tensor) and share.shape[0] != query.shape[1]:
        raise UserError(f"hardware.attention.profile: layer {layer} lists {share.shape[0]} heads, the model has "
                        f"{query.shape[1]}")
    dense = layer < cfg.dense_layers or layer in state.get("pooling", ())
    if predictor.attend is not None and not dense:
        out, kept = predictor.attend(query, key, value, attention_mask, scaling, cfg, ctx, share, dropout, training)
        state["kept"] = state.get("kept", 0) + kept
        state["valid"] = state.get("valid", 0) + int(valid.expand(query.shape[0], query.shape[1], -1, -1).sum())
        return out
    if dense:
        keep = valid.expand(query.shape[0], query.shape[1], -1, -1)
    else:
        with torch.no_grad():  # the selection is discrete: no gradient flows through the prediction
            pred = predictor.score(query.detach(), key.detach(), cfg, ctx)
            if predictor.logits and attention_mask is not None and attention_mask.is_floating_point():
                # an additive term of the logits the chip computes anyway (ParT's pair-interaction bias; zero on
                # the valid keys of a transformers mask): part of every prediction, in the predictor's units
                bias = attention_mask[..., : key.shape[-2]].float()
                pred = pred + torch.where(torch.isfinite(bias), bias, torch.zeros(())) / scaling
            keep = select(pred, valid, share, cfg.keep_first, cfg.keep_diagonal, getattr(cfg, "threshold", None),
                          scaling)
    state["kept"] = state.get("kept", 0) + int(keep.sum())
    state["valid"] = state.get("valid", 0) + int(valid.expand_as(keep).sum())
    mask = keep
    if attention_mask is not None and attention_mask.is_floating_point():
        # the kept entries keep their additive term (ParT's pair bias; 0 in a transformers padding mask)
        bias = attention_mask[..., : key.shape[-2]].float().expand(keep.shape)
        mask = torch.where(keep, bias, torch.tensor(torch.finfo(torch.float32).min))
    if cfg.exact == "float":
        out = float_attention(query, key, value, mask, scaling, False, dropout, training)
    else:
        out = digital_attention(query, key, value, mask, scaling, cfg, False, dropout, training)
    if predictor.observe is not None:
        predictor.observe(cfg, ctx, out[1], keep)
    return out


def profile_keeps(path, keep: float, mass: str = "keep_for_90") -> dict[int, torch.Tensor]:
    """Per layer, the keep share of each head [H, 1, 1] from an attention analysis's sparsity profile: in
    proportion to the share of keys that hold ``mass`` of the attention, scaled so that the mean over every
    layer and head is ``keep`` (each clipped to [1e-3, 1]; the scale found by bisection)."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))[mass]
        prof = {int(l): torch.tensor([float(x) for x in v]) for l, v in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"hardware.attention.profile: cannot read a sparsity profile from {path} ({e})") from None
    if not prof or any(len(v) == 0 or not torch.isfinite(v).all() or (v < 0).any() for v in prof.values()):
        raise UserError(f"hardware.attention.profile: {path} holds no per-head shares in [0, 1]")
    flat = torch.cat(list(prof.values())).clamp_min(1e-3)

    def mean(scale: float) -> float:
        return float((flat * scale).clamp(1e-3, 1.0).mean())

    lo, hi = 0.0, 1.0 / float(flat.min())
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean(mid) < keep else (lo, mid)
    return {l: (v.clamp_min(1e-3) * hi).clamp(1e-3, 1.0)[:, None, None] for l, v in prof.items()}


def gather_attention(query, key, value, index: torch.Tensor, scaling: float | None = None) -> torch.Tensor:
    """Float attention of each query over the keys ``index`` [B, Hq, Sq, k] only, by gathering their K and V
    rows (no dense score matrix: the work and memory scale with k, not with the sequence) -> [B, Sq, Hq, D].
    Equal to attention masked to the same keys; the speed path of ``benchmarks/bench_sparse_attention.py``."""
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    n_rep = query.shape[1] // key.shape[1]
    k, v = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    B, H, Sq, kk = index.shape
    D = k.shape[-1]
    flat = index.reshape(B, H, Sq * kk, 1).expand(B, H, Sq * kk, D)
    ks = torch.gather(k, 2, flat).reshape(B, H, Sq, kk, D)
    vs = torch.gather(v, 2, flat).reshape(B, H, Sq, kk, D)
    p = torch.softmax(torch.einsum("bhqd,bhqkd->bhqk", query, ks) * scaling, dim=-1)
    return torch.einsum("bhqk,bhqkd->bhqd", p, vs).transpose(1, 2).contiguous()


def _forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    cfg = module._hyflexpim_sparse
    state = module._hyflexpim_sparse_state
    if module._hyflexpim_layer == state["first_layer"]:  # a new forward pass: reset the cascade state
        for k in [k for k in state if k not in ("first_layer", "kept", "valid", "layer_keep", "pooling")]:
            del state[k]
    return sparse_attention(query, key, value, attention_mask, scaling, cfg,
                            bool(getattr(module, "is_causal", False)), getattr(module, "_hyflexpim_codebooks", None),
                            dropout, module.training, module._hyflexpim_layer, state)


class SparseAttentionHandle(DigitalAttentionHandle):
    """Returned by :func:`enable_sparse_attention`: ``density()`` is the measured share of valid attention
    entries computed exactly so far; ``disable()`` (or leaving the ``with`` block) restores the model."""

    ATTRIBUTES = ("_hyflexpim_sparse", "_hyflexpim_sparse_state", "_hyflexpim_codebooks", "_hyflexpim_layer")

    def __init__(self, model, previous: str, modules: list, state: dict):
        super().__init__(model, previous, modules)
        self.state = state

    def density(self) -> float:
        return self.state.get("kept", 0) / max(self.state.get("valid", 0), 1)


def enable_sparse_attention(model, cfg, codebooks: dict | None = None, seed: int = 0) -> SparseAttentionHandle:
    """Run every attention of ``model`` as the sparse kind ``cfg`` (codebooks: layer -> [Hkv, M, K, D/M])."""
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    from transformers.modeling_utils import AttentionInterface

    from hyflexpim.models.discover import model_layer_of

    AttentionInterface.register(SPARSE_IMPLEMENTATION, _forward)
    AttentionMaskInterface.register(SPARSE_IMPLEMENTATION, eager_mask)
    mods = find_attention_modules(model)
    names = {id(m): n for n, m in model.named_modules()}
    predictor = predictor_of(cfg.kind)
    g = torch.Generator().manual_seed(seed)
    found = [model_layer_of(model, names[id(m)]) for m in mods]
    layers = [layer if layer is not None else i for i, layer in enumerate(found)]
    books = None if predictor.books is None else predictor.books(cfg, codebooks, layers, g)
    state = {"first_layer": min(layers) if layers else 0}
    pooling = getattr(model, "hyflexpim_pooling_attention", None)  # a class token reading every particle (ParT)
    if pooling is not None:
        state["pooling"] = {layer for layer, m in zip(layers, mods) if pooling(names[id(m)])}
    if cfg.profile is not None:
        state["layer_keep"] = profile_keeps(cfg.profile, cfg.keep)
        missing = sorted(set(layers) - set(state["layer_keep"]))
        if missing:
            raise UserError(f"hardware.attention.profile: {cfg.profile} has no layer {missing[0]} of this model")
    for layer, m in zip(layers, mods):
        m._hyflexpim_sparse, m._hyflexpim_sparse_state, m._hyflexpim_layer = cfg, state, layer
        if books is not None:
            m._hyflexpim_codebooks = books[layer]
    previous = model.config._attn_implementation or "eager"
    model.set_attn_implementation(SPARSE_IMPLEMENTATION)
    return SparseAttentionHandle(model, previous, mods, state)


__all__ = [
    "PREDICTORS",
    "Context",
    "Predictor",
    "SparseAttentionBase",
    "SparseAttentionHandle",
    "ThresholdAttentionBase",
    "attention_hook",
    "enable_sparse_attention",
    "exact_scores",
    "gather_attention",
    "predicted_scores",
    "predictor_of",
    "profile_keeps",
    "register_predictor",
    "select",
    "sparse_attention",
    "token_valid",
]


_REEXPORTED = {"TopKAttentionConfig": "topk", "WindowAttentionConfig": "window", "PQAttentionConfig": "pq"}


def __getattr__(name: str) -> object:
    """The settings classes of the ``topk``, ``window`` and ``pq`` folders, re-exported for older callers."""
    if name in _REEXPORTED:
        return predictor_methods()[_REEXPORTED[name]].load("config")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
