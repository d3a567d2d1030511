"""Decomposition methods: how W [d_out, d_in] becomes U · diag(Σ) · Vᵀ before a rank keeps the first k components.

A registry (``FACTORIZATIONS``): ``register_factorization(name, fn, needs=...)`` where
``fn(W, stats, config) -> (U, S, Vh)`` (Σ sorted descending) and ``needs`` names the calibration the
run gathers first (``hyflexpim.algo.calibration``). Built-ins, each truncated by the run's rank policy:

- ``svd``: the plain SVD of W (the paper's; truncation minimises ‖W − W_k‖_F).
- ``asvd``: activation-aware (ASVD, Yuan et al. 2023): SVD of W·diag(s), s_j = mean|x_j|^α (``asvd_alpha``,
  0.5), then Vᵀ ← Vᵀ·diag(s)⁻¹ — channels with large inputs are kept more faithfully.
- ``whiten``: truncation-aware whitening (SVD-LLM, Wang et al. 2024): L the Cholesky factor of the inputs'
  second moment E[x xᵀ] (+ 1e-5 of its mean diagonal, doubled until positive definite), SVD of W·L, then
  Vᵀ ← Vᵀ·L⁻¹; truncating component i then costs exactly σ_i² of output error E‖(W − W_k)x‖², so the kept
  rank is optimal for the calibration inputs.
- ``fisher``: Fisher-weighted SVD (FWSVD, Hsu et al. 2022): rows weighted by √(Σ_j (∂L/∂W_ij)²) of the task
  loss, SVD of diag(d)·W, then U ← diag(d)⁻¹·U.

U and Vᵀ are not orthonormal for the last three; Σ is the weighted problem's singular values (what the rank
policies and the σ-order scorer see).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from hyflexpim.config import Registry
from hyflexpim.errors import NumericalError


@dataclass(frozen=True)
class Factorization:
    fn: Callable  # (W, stats, config) -> (U, S, Vh)
    needs: Literal[None, "inputs", "gram", "fisher"] = None
    description: str = ""


FACTORIZATIONS: Registry[Factorization] = Registry("decomposition method")


def register_factorization(name: str, fn: Callable, needs=None, description: str = "",
                           replace: bool = False) -> Factorization:
    return FACTORIZATIONS.register(name, Factorization(fn, needs, description), replace)


def _svd(W: torch.Tensor):
    return torch.linalg.svd(W, full_matrices=False)


def _positive(s: torch.Tensor) -> torch.Tensor:
    """Weights for a scaling: dead channels get a small positive weight (the scaling stays invertible)."""
    floor = 1e-6 * float(s.max()) if s.numel() and float(s.max()) > 0 else 1.0
    return s.clamp_min(floor)


def plain_svd(W, stats, config):
    return _svd(W.float())  # float32 as always: the pinned results of the paper's method do not move


def asvd(W, stats, config):
    W = W.double()
    s = _positive(stats["abs_mean"].double() ** config.asvd_alpha)
    U, S, Vh = _svd(W * s)
    return U, S, Vh / s


def whitened_svd(W, stats, config):
    W, G = W.double(), stats["gram"].double()
    damp = 1e-5 * float(G.diagonal().mean().clamp_min(1e-12))
    eye = torch.eye(G.shape[0], dtype=G.dtype)
    for _ in range(20):
        L, info = torch.linalg.cholesky_ex(G + damp * eye)
        if int(info) == 0:
            break
        damp *= 2
    else:
        raise NumericalError("whitening: the inputs' second moment is not positive definite even with damping")
    U, S, Vh = _svd(W @ L)
    return U, S, torch.linalg.solve_triangular(L, Vh, upper=False, left=False)  # Vh · L⁻¹


def fisher_svd(W, stats, config):
    W, d = W.double(), _positive(stats["fisher"].double().sqrt())
    U, S, Vh = _svd(d[:, None] * W)
    return U / d[:, None], S, Vh


register_factorization("svd", plain_svd, description="plain SVD of W (the paper's)")
register_factorization("asvd", asvd, "inputs", "ASVD: W·diag(mean|x|^α), then undo the scaling in Vᵀ")
register_factorization("whiten", whitened_svd, "gram", "SVD-LLM: W·L with L Lᵀ = E[x xᵀ], then Vᵀ·L⁻¹")
register_factorization("fisher", fisher_svd, "fisher", "FWSVD: rows weighted by √Fisher of the task loss")


def factorize(method: str, W: torch.Tensor, stats: dict | None, config):
    """U, Σ, Vᵀ of ``W`` under a registered decomposition method (the weighted ones in float64)."""
    return FACTORIZATIONS.get(method, "decompose.method").fn(W, stats or {}, config)


__all__ = ["FACTORIZATIONS", "Factorization", "factorize", "register_factorization"]
