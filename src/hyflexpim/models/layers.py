"""Layer types the toolkit puts into a model, and the one module-swap helper.

``SVDLinear``: a weight matrix replaced by U · diag(Σ) · Vᵀ, truncated to rank k. Component i is
column i of U plus row i of ΣVᵀ. Σ is a trainable vector (its gradient is the importance signal of
gradient redistribution); U and Vᵀ are trainable too unless frozen. No copy of the original weight
is kept. Used by ``algo`` (decompose, fine-tune) and ``sim`` (programming the cells) alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from hyflexpim.models.discover import is_matrix, matrix_shape


def replace_module(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Put ``new`` at the module path ``name`` of ``model``; returns the module it replaced."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    setattr(parent, child, new)
    return old


def dense_weight(module: nn.Module) -> torch.Tensor:
    """[d_out, d_in] weight of an nn.Linear or HF Conv1D (which stores it transposed)."""
    w = module.weight.detach()
    return w if isinstance(module, nn.Linear) else w.t()


class SVDLinear(nn.Module):
    hyflexpim_kind = "svd"

    def __init__(self, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        # clone: own storage, so the untruncated factors are freed and nothing shares memory
        self.U = nn.Parameter(U.detach().clone(memory_format=torch.contiguous_format))  # [d_out, k]
        self.S = nn.Parameter(S.detach().clone())  # [k]
        self.Vh = nn.Parameter(Vh.detach().clone(memory_format=torch.contiguous_format))  # [k, d_in]
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None
        self.hyflexpim_shape = (U.shape[0], Vh.shape[1])

    @property
    def rank(self) -> int:
        return self.S.shape[0]

    @classmethod
    def from_module(cls, module: nn.Module, rank: int | Callable[[torch.Tensor], int] | None = None) -> SVDLinear:
        """From an nn.Linear or HF Conv1D. ``rank``: an int, a function of the singular values, or None (full)."""
        U, S, Vh = torch.linalg.svd(dense_weight(module).float(), full_matrices=False)
        k = rank(S) if callable(rank) else (rank or S.shape[0])
        dtype = module.weight.dtype
        return cls(U[:, :k].to(dtype), S[:k].to(dtype), Vh[:k].to(dtype), getattr(module, "bias", None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.Vh) * self.S, self.U, self.bias)

    def weight(self) -> torch.Tensor:
        """The dense product U diag(Σ) Vᵀ (for inspection; not stored)."""
        return (self.U * self.S) @ self.Vh

    def extra_repr(self) -> str:
        d_out, d_in = self.hyflexpim_shape
        return f"in_features={d_in}, out_features={d_out}, rank={self.rank}, bias={self.bias is not None}"


class LowRankLinear(nn.Module):
    """A hardened low-rank matrix as a deployment stores it: two dense factors, x·Vᵀ then ·(U·diag Σ)ᵀ (+ bias) —
    two matmuls and nothing else per layer (Σ folded into U, no elementwise scaling, one module call)."""

    hyflexpim_kind = "low_rank"

    def __init__(self, first: torch.Tensor, second: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.first = nn.Parameter(first.detach().clone(memory_format=torch.contiguous_format))  # [k, d_in]
        self.second = nn.Parameter(second.detach().clone(memory_format=torch.contiguous_format))  # [d_out, k]
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None

    @classmethod
    def from_svd(cls, m: SVDLinear) -> LowRankLinear:
        with torch.no_grad():
            return cls(m.Vh, m.U * m.S, m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.first), self.second, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.first.shape[1]}, out_features={self.second.shape[0]}, rank={self.first.shape[0]}"


__all__ = ["LowRankLinear", "SVDLinear", "dense_weight", "is_matrix", "matrix_shape", "replace_module"]
