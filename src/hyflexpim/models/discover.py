"""Walk a model's module tree and list its weight matrices with a role and a layer index.

Model-agnostic: ``nn.Linear`` and HF ``Conv1D`` (GPT-2, weight stored [in, out]) both count, and
roles come from module names, not from one function per model family.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from torch import nn

try:  # transformers' GPT-2 style linear layer
    from transformers.pytorch_utils import Conv1D
except ImportError:  # pragma: no cover - transformers is a dependency of the ml extra
    Conv1D = ()

ROLE_BY_LEAF = {
    "q": ("query", "q_proj", "q_lin", "to_q", "wq", "q"),
    "k": ("key", "k_proj", "k_lin", "to_k", "wk", "k"),
    "v": ("value", "v_proj", "v_lin", "to_v", "wv", "v"),
    "qkv": ("c_attn", "qkv", "qkv_proj", "query_key_value", "wqkv", "in_proj"),
    "o": ("o_proj", "out_proj", "out_lin", "wo", "to_out"),
    "ffn_gate": ("gate_proj", "w1", "gate"),
    "ffn_in": ("up_proj", "c_fc", "fc1", "lin1", "w3", "fc_in", "up"),
    "ffn_out": ("down_proj", "fc2", "lin2", "w2", "fc_out", "down"),
    "head": ("lm_head", "classifier", "score", "qa_outputs", "cls", "head"),
}
ATTENTION_PARTS = {"attention", "attn", "self_attn", "self_attention", "attn_layer"}
LEAF_TO_ROLE = {leaf: role for role, leaves in ROLE_BY_LEAF.items() for leaf in leaves}


@dataclass(frozen=True)
class MatrixInfo:
    name: str
    role: str
    layer: int | None
    shape: tuple[int, int]  # [d_out, d_in]
    kind: str  # "linear", "conv1d" (HF Conv1D) or "conv1x1" (a 1×1 nn.Conv1d: ParT's embedding networks)


def is_matrix(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or (bool(Conv1D) and isinstance(module, Conv1D))


def matrix_shape(module: nn.Module) -> tuple[int, int]:
    w = module.weight
    return (w.shape[1], w.shape[0]) if not isinstance(module, nn.Linear) else (w.shape[0], w.shape[1])


def role_of(name: str) -> str:
    parts = name.lower().split(".")
    leaf, parent = parts[-1], (parts[-2] if len(parts) > 1 else "")
    in_attention = bool(ATTENTION_PARTS & set(parts[:-1]))
    if leaf == "c_proj":  # GPT-2 uses one name for the attention and the MLP output
        return "o" if in_attention else "ffn_out"
    if leaf == "dense":  # BERT / ViT
        if in_attention:
            return "o"
        if parent == "intermediate":
            return "ffn_in"
        if parent == "output":
            return "ffn_out"
        if parent == "pooler":
            return "head"
        return "other"
    if "pooler" in parts or "classifier" in parts:
        return "head"
    return LEAF_TO_ROLE.get(leaf, "other")


def layer_of(name: str) -> int | None:
    """The transformer-layer index: the first integer in the module path (encoder.layer.3.… -> 3)."""
    m = re.search(r"(?:^|\.)(\d+)(?:\.|$)", name)
    return int(m.group(1)) if m else None


def model_layer_of(model, name: str) -> int | None:
    """The layer of module ``name`` of ``model``: the model's own ``hyflexpim_layer(name)`` where it has one (ParT:
    class-attention blocks after the particle blocks), else ``layer_of``."""
    own = getattr(model, "hyflexpim_layer", None)
    return own(name) if own else layer_of(name)


def _kind_and_shape(module: nn.Module) -> tuple[str, tuple[int, int]] | None:
    """Replaced layers (SVD, PIM) carry ``hyflexpim_shape`` = the original [d_out, d_in]."""
    shape = getattr(module, "hyflexpim_shape", None)
    if shape is not None:
        return getattr(module, "hyflexpim_kind", "replaced"), tuple(shape)
    if is_matrix(module):
        return ("linear" if isinstance(module, nn.Linear) else "conv1d"), matrix_shape(module)
    if isinstance(module, nn.Conv1d) and module.kernel_size == (1,) and module.groups == 1:
        return "conv1x1", (module.out_channels, module.in_channels)
    return None


def find_matrices(model: nn.Module) -> list[MatrixInfo]:
    """Every weight matrix, in module order; already decomposed layers are listed with their original shape.

    A model whose module names do not say it may define ``hyflexpim_role(name)`` (None: the name rules decide)
    and ``hyflexpim_layer(name)`` (the layer index, None outside the layers), as ParT does for its head, its
    embedding networks and its class-attention blocks."""
    own_role = getattr(model, "hyflexpim_role", None)
    own_layer = getattr(model, "hyflexpim_layer", None)
    out = []
    for name, module in model.named_modules():
        found = _kind_and_shape(module)
        if found:
            role = (own_role and own_role(name)) or role_of(name)
            layer = own_layer(name) if own_layer else layer_of(name)
            out.append(MatrixInfo(name, role, layer, found[1], found[0]))
    return out


def fingerprint(model: nn.Module) -> str:
    """Architecture fingerprint: model type and every weight matrix's name and shape.

    Fine-tuning does not change it; a different model (or a different decomposition target) does.
    """
    cfg = getattr(model, "config", None)
    h = hashlib.sha256(str(getattr(cfg, "model_type", type(model).__name__)).encode())
    for m in find_matrices(model):
        h.update(f"{m.name}:{m.shape};".encode())
    for name, module in model.named_modules():
        if isinstance(module, nn.Embedding):
            h.update(f"{name}:{tuple(module.weight.shape)};".encode())
    return h.hexdigest()
