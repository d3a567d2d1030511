"""Rank policies: how many singular components each matrix keeps. Computed per matrix, never shared."""

from __future__ import annotations

from typing import Literal

import torch

from hyflexpim.errors import UserError

RankPolicy = Literal["hard_threshold", "ratio", "energy", "fixed", "full"]
RANK_POLICIES = ("hard_threshold", "ratio", "energy", "fixed", "full")


def hard_threshold_rank(d_out: int, d_in: int) -> int:
    """The paper's k = d_out·d_in/(d_out+d_in): U and ΣVᵀ hold as many weights as W."""
    return max(1, (d_out * d_in) // (d_out + d_in))


def choose_rank(policy: str, shape: tuple[int, int], singular_values: torch.Tensor | None = None,
                value: float | None = None, name: str = "") -> int:
    d_out, d_in = shape
    full = min(d_out, d_in)
    if policy == "hard_threshold":
        return min(full, hard_threshold_rank(d_out, d_in))
    if policy == "full":
        return full
    if policy == "fixed":
        if value is None or int(value) != value or not 1 <= int(value) <= full:
            raise UserError(f"rank for {name or 'matrix'} {list(shape)} must be an integer in 1..{full}, got {value}")
        return int(value)
    if policy == "ratio":
        if value is None or not 0 < value <= 1:
            raise UserError(f"rank ratio must be in (0, 1], got {value}")
        return max(1, min(full, round(value * full)))
    if policy == "energy":
        if value is None or not 0 < value <= 1:
            raise UserError(f"rank energy fraction must be in (0, 1], got {value}")
        if singular_values is None:
            raise ValueError("energy policy needs the singular values")
        e = torch.cumsum(singular_values.double() ** 2, 0)
        k = int(torch.searchsorted(e / e[-1], torch.tensor(value, dtype=e.dtype) - 1e-12)) + 1
        return max(1, min(full, k))
    raise UserError(f"rank policy must be one of {', '.join(RANK_POLICIES)}; got '{policy}'")
