"""Capture post-softmax attention of any supported transformer, layer by layer, as it is computed.

Transformers models: an attention implementation ``"hyflexpim_capture"`` registered in transformers'
``AttentionInterface`` (the same hook the digital-PIM attention uses) computes the attention — as the
module's dynamic sparse kind when one is enabled, on the digital-PIM datapath when that is, else eager
float, as transformers' own ``eager`` —
and hands the probabilities and the mask of valid keys to a sink. ``torch.nn.MultiheadAttention``
modules: a wrapper of their forward asks for per-head weights. Nothing is stored here: the sink
(``hyflexpim.analysis``) reduces each batch to running statistics.

    with capture_attention(model, sink):   # sink(layer, probs [B, H, Sq, Sk], valid [.., Sq, Sk] bool)
        model(**batch)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from hyflexpim.errors import UserError
from hyflexpim.models.discover import layer_of
from hyflexpim.sim.digital_attention import (
    ATTN_IMPLEMENTATION,
    SUPPORTED_ATTENTION_CLASSES,
    digital_attention,
    find_attention_modules,
    float_attention,
    valid_keys,
)
from hyflexpim.sim.sparse_attention import _forward as sparse_forward

CAPTURE_IMPLEMENTATION = "hyflexpim_capture"
Sink = Callable[[int, torch.Tensor, torch.Tensor], None]


def _capture_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    causal = bool(getattr(module, "is_causal", False))
    cfg = getattr(module, "_hyflexpim_digital_attention", None)
    if getattr(module, "_hyflexpim_sparse", None) is not None:  # a dynamic sparse kind: its own forward

        out, p = sparse_forward(module, query, key, value, attention_mask, scaling, dropout)
    elif cfg is not None:
        out, p = digital_attention(query, key, value, attention_mask, scaling, cfg, is_causal=causal,
                                   dropout=dropout, training=module.training)
    else:
        out, p = float_attention(query, key, value, attention_mask, scaling, causal, dropout, module.training)
    sink = getattr(module, "_hyflexpim_capture", None)
    if sink is not None:
        sink(module._hyflexpim_layer, p.detach(), valid_keys(attention_mask, p.shape, causal))
    return out, p


def _register() -> None:
    # lazy: transformers loads only when a capture is registered (a plain torch model needs none)
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(CAPTURE_IMPLEMENTATION, _capture_forward)
    AttentionMaskInterface.register(CAPTURE_IMPLEMENTATION, eager_mask)


def attention_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every attention the capture knows, in layer order; UserError if there is none."""
    if hasattr(model, "attention_blocks"):  # ParT (hyflexpim.models.part): its particle-attention blocks
        return [(n, m) for n, m in model.attention_blocks() if n.startswith("blocks.")]
    mha = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    if mha:
        return mha
    if not hasattr(model, "set_attn_implementation"):
        raise UserError(f"attention analysis: {type(model).__name__} has no attention the capture knows "
                        f"(transformers {', '.join(SUPPORTED_ATTENTION_CLASSES)}, or torch.nn.MultiheadAttention)")
    mods = find_attention_modules(model)
    names = {id(m): n for n, m in model.named_modules()}
    return [(names[id(m)], m) for m in mods]


def _mha_wrapper(module: nn.MultiheadAttention, layer: int, sink: Sink):
    original = module.forward

    def forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        out, w = original(query, key, value, key_padding_mask=key_padding_mask, need_weights=True, attn_mask=attn_mask,
                          average_attn_weights=False, is_causal=is_causal)
        n_b = w.shape[0]
        sq, sk = w.shape[-2:]
        valid = torch.ones(n_b, 1, sq, sk, dtype=torch.bool, device=w.device)
        if key_padding_mask is not None:
            kpm = key_padding_mask if key_padding_mask.dtype == torch.bool else key_padding_mask < -1e30
            valid = valid & ~kpm[:, None, None, :]
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            valid = valid & ~attn_mask.reshape((-1 if attn_mask.dim() == 3 else 1, 1, sq, sk))[:n_b]
        sink(layer, w.detach(), valid)
        return (out, w.mean(1) if average_attn_weights else w) if need_weights else (out, None)

    return original, forward


@contextlib.contextmanager
def capture_attention(model: nn.Module, sink: Sink):
    """Within the block, every attention of ``model`` reports its probabilities to ``sink``."""
    layers = attention_layers(model)
    restore = []
    if hasattr(model, "attention_blocks"):  # ParT's attention reports to a callable itself
        for i, (_, m) in enumerate(layers):
            m.hyflexpim_capture = lambda p, bias, valid, i=i: sink(i, p, valid)
        try:
            yield [n for n, _ in layers]
        finally:
            for _, m in layers:
                m.hyflexpim_capture = None
        return
    if isinstance(layers[0][1], nn.MultiheadAttention):
        for i, (_, m) in enumerate(layers):
            original, forward = _mha_wrapper(m, i, sink)
            m.forward = forward
            restore.append((m, original))
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)  # the fused encoder path would skip the module's forward
        try:
            yield [n for n, _ in layers]
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)
            for m, original in restore:
                m.forward = original
        return
    _register()
    previous = model.config._attn_implementation or "eager"
    labelled = []
    for i, (name, m) in enumerate(layers):
        m._hyflexpim_capture = sink
        if not hasattr(m, "_hyflexpim_layer"):  # a sparse kind labels its modules itself
            m._hyflexpim_layer = layer_of(name) if layer_of(name) is not None else i
            labelled.append(m)
    model.set_attn_implementation(CAPTURE_IMPLEMENTATION)
    try:
        yield [n for n, _ in layers]
    finally:
        for _, m in layers:
            if hasattr(m, "_hyflexpim_capture"):
                del m._hyflexpim_capture
        for m in labelled:
            del m._hyflexpim_layer
        model.set_attn_implementation(previous if previous != CAPTURE_IMPLEMENTATION else "eager")


__all__ = ["ATTN_IMPLEMENTATION", "CAPTURE_IMPLEMENTATION", "attention_layers", "capture_attention"]
