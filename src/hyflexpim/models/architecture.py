"""The architecture of a model, read from its own config (and its module tree where the config is silent).

Returns a plain dict with the fields of ``hyflexpim.plan.Architecture``; the plan validates it.
"""

from __future__ import annotations

from torch import nn

from hyflexpim.models.discover import find_matrices
from hyflexpim.plan.architecture import infer_from_matrices


def _first(cfg, *names, default=None):
    for n in names:
        v = getattr(cfg, n, None)
        if v is not None:
            return v
    return default


def _is_decoder(model: nn.Module, cfg) -> bool:
    if getattr(cfg, "is_encoder_decoder", False):
        return False
    if getattr(cfg, "is_decoder", False):
        return True
    can_generate = getattr(model, "can_generate", None)
    return bool(can_generate()) if callable(can_generate) else False


def architecture_of(model: nn.Module, name: str | None = None) -> dict:
    """layers, hidden, heads, kv heads, head size, FFN size, gated, fused qkv, decoder, vocabulary, activation."""
    cfg = getattr(model, "config", None)
    roles = {m.role for m in find_matrices(model) if m.layer is not None}
    layer_ids = {m.layer for m in find_matrices(model) if m.layer is not None}
    if cfg is None:  # a plain torch model (e.g. nn.MultiheadAttention blocks): what the matrices say

        arch = infer_from_matrices(find_matrices(model), name or type(model).__name__)
        return arch.model_dump() | {"source": "read from the matrices (no model config): head size 64 assumed"}
    hidden = int(_first(cfg, "hidden_size", "n_embd", "d_model", "dim"))
    heads = int(_first(cfg, "num_attention_heads", "n_head", "num_heads", "n_heads"))
    kv_heads = int(_first(cfg, "num_key_value_heads", "n_kv_heads", default=heads))
    head_dim = int(_first(cfg, "head_dim", default=hidden // heads))
    ffn = int(_first(cfg, "intermediate_size", "n_inner", "ffn_dim", "hidden_dim", default=4 * hidden))
    act = str(_first(cfg, "hidden_act", "activation_function", "hidden_activation", default="gelu"))
    layers = int(_first(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers", default=len(layer_ids) or 1))
    return {
        "name": name or getattr(model, "hyflexpim_name", None) or str(getattr(cfg, "model_type", type(model).__name__)),
        "layers": layers, "hidden": hidden, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "ffn": ffn,
        "gated": "ffn_gate" in roles, "fused_qkv": "qkv" in roles and "q" not in roles,
        "decoder": _is_decoder(model, cfg), "vocab": int(_first(cfg, "vocab_size", default=0)),
        "act": "silu" if act in ("silu", "swish") else act, "source": "model config",
    }
