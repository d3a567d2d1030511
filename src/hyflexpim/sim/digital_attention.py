"""Digital PIM attention: Q·Kᵀ on INT8 operands, softmax in the special-function unit, score×V at 12 bits.

The paper runs the two activation×activation products of attention in digital (NOR-logic) RRAM PIM:
Q·Kᵀ at INT8 and score×V with 12-bit precision; softmax runs in the SFU. This module swaps that arithmetic
into a transformers model through transformers 5's attention dispatch: attention classes call
``ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)`` with
``(module, query [B, H, Sq, D], key [B, Hkv, Sk, D], value, attention_mask, scaling=, dropout=)``.
:func:`enable_digital_attention` registers ``"hyflexpim_digital"`` in ``AttentionInterface`` (and the eager,
additive float mask for it in ``AttentionMaskInterface``) and switches the model to it with
``model.set_attn_implementation``; the returned handle (also a context manager) switches back.

Arithmetic (:func:`digital_attention`), all quantizers symmetric round-to-nearest:

- **Q·Kᵀ**: Q and K quantized to ``qk_bits`` (default 8) signed integers. ``qk_granularity="per_token"``
  (default): one scale per (batch, head, token) row of Q and of K — both scales factor out of the integer
  dot product (a rank-one rescale of the integer score matrix, done in the SFU); ``"per_head"``: one scale
  per (batch, head) tensor. The integer product is exact (float32 up to 12 bits, float64 above).
- **scale, mask, softmax** in the SFU: scores × scaling + additive mask; ``softmax="exact"`` (float) or
  ``"fixed_point"``: x − max(x) rounded to ``softmax_frac_bits`` fractional bits and clamped at
  −2^``softmax_int_bits``, exp values rounded to ``softmax_exp_bits`` fractional bits, then normalised.
- **score×V**: probabilities quantized to ``prob_bits`` (default 12) unsigned levels of 1/(2^bits − 1);
  V to ``value_bits`` (default 8) signed integers with one scale per (batch, head) (``value_granularity=
  "per_head"``, default) or per (batch, head, channel) (``"per_channel"``) — per-token scales of V would not
  factor out of the sum over tokens. Accumulated in float32 (relative error ≤ 1e-7, far below one step).
- Grouped-query attention: K/V heads are repeated to the query heads (``Hq / Hkv`` groups).
- Masks: the additive float mask transformers builds (causal and/or padding); a boolean mask is also
  accepted (True = attend). A module with ``is_causal`` and no mask gets a causal mask here.
"""

from __future__ import annotations

import contextlib
import functools

import torch

from hyflexpim.config.attention import DigitalAttentionConfig, DigitalDatapath
from hyflexpim.device.quant import fake_quant
from hyflexpim.errors import UserError

ATTN_IMPLEMENTATION = "hyflexpim_digital"

# Attention classes known to call ALL_ATTENTION_FUNCTIONS with the contract above (transformers 5.x).
# Tested: BertSelfAttention, LlamaAttention (tests/test_sim_attention.py), GPT2Attention. The others use the
# same contract in the installed source.
SUPPORTED_ATTENTION_CLASSES: tuple[str, ...] = (
    "BertSelfAttention", "BertCrossAttention", "LlamaAttention", "GPT2Attention",
    "RobertaSelfAttention", "RobertaCrossAttention", "ViTSelfAttention", "ViTAttention", "MistralAttention",
    "Qwen2Attention",
)


@functools.cache
def _uses_attention_interface(cls: type) -> bool:
    """True when the class's forward dispatches through transformers' ALL_ATTENTION_FUNCTIONS (the contract)."""
    import inspect

    try:
        return "ALL_ATTENTION_FUNCTIONS" in inspect.getsource(cls.forward)
    except (OSError, TypeError):
        return False


def is_supported_attention(module) -> bool:
    return type(module).__name__ in SUPPORTED_ATTENTION_CLASSES or _uses_attention_interface(type(module))


def repeat_kv(t: torch.Tensor, n_rep: int) -> torch.Tensor:
    if n_rep == 1:
        return t
    b, h, s, d = t.shape
    return t[:, :, None].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


def apply_mask(scores: torch.Tensor, attention_mask: torch.Tensor | None, is_causal: bool) -> torch.Tensor:
    """Scores with the additive float mask transformers builds (or a boolean one, True = attend) applied;
    a causal mask when there is none and the module is causal."""
    if attention_mask is not None:
        m = attention_mask
        if m.dtype == torch.bool:
            return scores.masked_fill(~m, torch.finfo(torch.float32).min)
        return scores + m[..., : scores.shape[-1]].float()
    if is_causal and scores.shape[-2] > 1:
        sq_len, sk_len = scores.shape[-2:]
        causal = torch.ones(sq_len, sk_len, dtype=torch.bool, device=scores.device).tril(sk_len - sq_len)
        return scores.masked_fill(~causal, torch.finfo(torch.float32).min)
    return scores


def valid_keys(attention_mask: torch.Tensor | None, shape: tuple, is_causal: bool) -> torch.Tensor:
    """Boolean [B or 1, H or 1, Sq, Sk]: the keys a query may attend to under the mask."""
    sq_len, sk_len = shape[-2:]
    if attention_mask is not None:
        m = attention_mask[..., :sk_len]
        return m if m.dtype == torch.bool else m > torch.finfo(m.dtype).min / 2
    if is_causal and sq_len > 1:
        return torch.ones(sq_len, sk_len, dtype=torch.bool).tril(sk_len - sq_len)[None, None]
    return torch.ones(1, 1, sq_len, sk_len, dtype=torch.bool)


def float_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    attention_mask: torch.Tensor | None, scaling: float | None, is_causal: bool = False,
                    dropout: float = 0.0, training: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The eager attention of transformers in float: ([B, Sq, Hq, D], probabilities [B, Hq, Sq, Sk])."""
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    n_rep = query.shape[1] // key.shape[1]
    k, v = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    scores = torch.matmul(query, k.transpose(-1, -2)) * scaling
    p = torch.softmax(apply_mask(scores, attention_mask, is_causal), dim=-1, dtype=torch.float32).to(query.dtype)
    pd = torch.nn.functional.dropout(p, p=dropout, training=training) if dropout > 0 else p
    return torch.matmul(pd, v).transpose(1, 2).contiguous(), p


def _softmax(scores: torch.Tensor, cfg: DigitalDatapath) -> torch.Tensor:
    if cfg.softmax == "exact":
        return torch.softmax(scores, dim=-1)
    z = scores - scores.amax(dim=-1, keepdim=True)
    f = float(1 << cfg.softmax_frac_bits)
    z = torch.clamp(torch.round(z * f) / f, min=-float(1 << cfg.softmax_int_bits))
    e_scale = float(1 << cfg.softmax_exp_bits)
    e = torch.round(torch.exp(z) * e_scale) / e_scale
    return e / e.sum(dim=-1, keepdim=True).clamp_min(1.0 / e_scale)


def digital_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, scaling: float | None,
                      cfg: DigitalAttentionConfig, is_causal: bool = False, dropout: float = 0.0,
                      training: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of query [B, Hq, Sq, D] over key/value [B, Hkv, Sk, D] -> ([B, Sq, Hq, D], probabilities)."""
    dtype = query.dtype
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    n_rep = query.shape[1] // key.shape[1]
    if n_rep * key.shape[1] != query.shape[1]:
        raise UserError(f"query heads ({query.shape[1]}) must be a multiple of key/value heads ({key.shape[1]})")
    k = repeat_kv(key, n_rep).float()
    v = repeat_kv(value, n_rep).float()
    q = query.float()
    # Q·Kᵀ on integers
    dims = (-1,) if cfg.qk_granularity == "per_token" else (-2, -1)
    qi, sq = fake_quant(q, cfg.qk_bits, dims)
    ki, sk = fake_quant(k, cfg.qk_bits, dims)
    acc = torch.float32 if cfg.qk_bits <= 12 else torch.float64
    s_int = torch.matmul(qi.to(acc), ki.to(acc).transpose(-1, -2))
    scores = (s_int * (sq.to(acc) * sk.to(acc).transpose(-1, -2)) * scaling).float()
    p = _softmax(apply_mask(scores, attention_mask, is_causal), cfg)
    # score×V on integers
    p_levels = float((1 << cfg.prob_bits) - 1)
    pi = torch.round(p * p_levels)
    if dropout > 0 and training:
        pi = torch.nn.functional.dropout(pi, p=dropout, training=True)
    vdims = (-2, -1) if cfg.value_granularity == "per_head" else (-2,)
    vi, sv = fake_quant(v, cfg.value_bits, vdims)
    out = torch.matmul(pi, vi) * (sv / p_levels)
    return out.transpose(1, 2).contiguous().to(dtype), (pi / p_levels).to(dtype)


def _attention_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """The function registered in transformers' AttentionInterface."""
    cfg = getattr(module, "_hyflexpim_digital_attention", None) or DigitalAttentionConfig()
    return digital_attention(query, key, value, attention_mask, scaling, cfg,
                             is_causal=bool(getattr(module, "is_causal", False)), dropout=dropout,
                             training=module.training)


def register() -> None:
    """Register ``"hyflexpim_digital"`` with transformers (idempotent)."""
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(ATTN_IMPLEMENTATION, _attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, eager_mask)


class DigitalAttentionHandle:
    """Returned by :func:`enable_digital_attention`; ``disable()`` (or leaving the ``with`` block) restores."""

    ATTRIBUTES = ("_hyflexpim_digital_attention",)  # what enabling put on each module

    def __init__(self, model, previous: str, modules: list):
        self.model, self.previous, self.modules = model, previous, modules
        self.active = True

    def disable(self) -> None:
        if not self.active:
            return
        for m in self.modules:
            for a in self.ATTRIBUTES:
                if hasattr(m, a):
                    delattr(m, a)
        self.model.set_attn_implementation(self.previous)
        self.active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disable()
        return False


def find_attention_modules(model) -> list:
    """The model's supported attention modules; UserError for attention classes this module does not know."""
    supported, unknown = [], set()
    known_inside: set[int] = set()
    mods = list(model.named_modules())
    for _, m in mods:
        if is_supported_attention(m):
            supported.append(m)
            known_inside.add(id(m))
    for _, m in mods:
        cname = type(m).__name__
        # a container of a supported attention (e.g. BertAttention) is fine
        if (cname.endswith("Attention") and not is_supported_attention(m)
                and not any(id(c) in known_inside for c in m.modules())):
            unknown.add(cname)
    if unknown or not supported:
        what = ", ".join(sorted(unknown)) or f"none found in {type(model).__name__}"
        raise UserError(f"digital attention: unknown attention class(es) {what}; supported: "
                        f"{', '.join(SUPPORTED_ATTENTION_CLASSES)}")
    return supported


def enable_digital_attention(model, cfg: DigitalAttentionConfig | dict | None = None) -> DigitalAttentionHandle:
    """Run every attention of ``model`` (a transformers PreTrainedModel) on the digital-PIM datapath.

    ``cfg``: a DigitalAttentionConfig, or a dict of its fields (validated; bad values -> UserError)."""
    if cfg is None:
        cfg = DigitalAttentionConfig()
    elif isinstance(cfg, dict):
        cfg = DigitalAttentionConfig(**cfg)
    elif not isinstance(cfg, DigitalDatapath):  # a sparse kind's settings carry the same precisions
        raise UserError("digital attention config must be a DigitalAttentionConfig or a dict; "
                        f"got {type(cfg).__name__}")
    if not hasattr(model, "set_attn_implementation") or not hasattr(getattr(model, "config", None),
                                                                    "_attn_implementation"):
        raise UserError(f"digital attention needs a transformers PreTrainedModel; got {type(model).__name__}")
    modules = find_attention_modules(model)
    register()
    previous = model.config._attn_implementation or "eager"
    model.set_attn_implementation(ATTN_IMPLEMENTATION)
    for m in modules:
        m._hyflexpim_digital_attention = cfg
    return DigitalAttentionHandle(model, previous, modules)


def disable_digital_attention(handle: DigitalAttentionHandle) -> None:
    handle.disable()


@contextlib.contextmanager
def attention_hook(model, name: str, fn):
    """Within the block every attention of ``model`` runs ``fn`` (an AttentionInterface function), each module
    labelled with its layer index as ``_hyflexpim_layer``."""
    from transformers.modeling_utils import AttentionInterface

    from hyflexpim.models.discover import model_layer_of

    AttentionInterface.register(name, fn)
    mods = find_attention_modules(model)
    names = {id(m): n for n, m in model.named_modules()}
    for i, m in enumerate(mods):
        layer = model_layer_of(model, names[id(m)])
        m._hyflexpim_layer = layer if layer is not None else i
    previous = model.config._attn_implementation or "eager"
    model.set_attn_implementation(name)
    try:
        yield mods
    finally:
        model.set_attn_implementation(previous)
        for m in mods:
            del m._hyflexpim_layer
