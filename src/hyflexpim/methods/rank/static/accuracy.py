"""The static rank policies (``hyflexpim.algo.rank.RankPolicy``): ``rank(shape, S, value, name) -> k``."""

from __future__ import annotations

import torch

from hyflexpim.algo.rank import RankPolicy
from hyflexpim.errors import UserError
from hyflexpim.plan import budget_rank, hard_threshold_rank


def _fraction(value: float | None) -> str | None:
    return None if value is not None and 0 < value <= 1 else f"must be in (0, 1] for this rank policy, got {value}"


def _integer_rank(value: float | None) -> str | None:
    return None if value is not None and value == int(value) and value >= 1 else \
        f"must be an integer rank >= 1 for rank policy 'fixed', got {value}"


def _fixed(shape: tuple[int, int], S: torch.Tensor | None, value: float | None, name: str) -> int:
    full = min(shape)
    if value is None or int(value) != value or not 1 <= int(value) <= full:
        raise UserError(f"rank for {name or 'matrix'} {list(shape)} must be an integer in 1..{full}, got {value}")
    return int(value)


def _energy(shape: tuple[int, int], S: torch.Tensor | None, value: float, name: str) -> int:
    if S is None:
        raise ValueError("energy policy needs the singular values")
    e = torch.cumsum(S.double() ** 2, 0)
    k = int(torch.searchsorted(e / e[-1], torch.tensor(value, dtype=e.dtype) - 1e-12)) + 1
    return max(1, min(min(shape), k))


def _energy_budget(entries: dict[str, tuple[tuple[int, int], torch.Tensor]], budget: float) -> dict[str, int]:
    """One energy fraction e for every matrix: the largest whose ranks (smallest k with e of Σσ²) fit the budget."""
    allowed = budget * sum(shape[0] * shape[1] for shape, _ in entries.values())
    cums = {n: torch.cumsum(S.double() ** 2, 0) / float((S.double() ** 2).sum().clamp_min(1e-300))
            for n, (_, S) in entries.items()}

    def ranks(e: float) -> dict[str, int]:
        return {n: max(1, min(len(c), int(torch.searchsorted(c, torch.tensor(e, dtype=c.dtype) - 1e-12)) + 1))
                for n, c in cums.items()}

    def cost(r: dict[str, int]) -> int:
        return sum(r[n] * sum(shape) for n, (shape, _) in entries.items())

    lo, hi = 0.0, 1.0
    if cost(ranks(hi)) <= allowed:
        return ranks(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost(ranks(mid)) <= allowed else (lo, mid)
    return ranks(lo)


HARD_THRESHOLD = RankPolicy(lambda shape, S, value, name: min(min(shape), hard_threshold_rank(*shape)),
                            description="k = d_out·d_in/(d_out+d_in): as many weights as W (the paper's)")
FULL = RankPolicy(lambda shape, S, value, name: min(shape), description="k = min(d_out, d_in): exact")
FIXED = RankPolicy(_fixed, _integer_rank, "k = rank_value", checks_value=True)
RATIO = RankPolicy(lambda shape, S, value, name: max(1, min(min(shape), round(value * min(shape)))), _fraction,
                   "k = rank_value · min(d_out, d_in)")
ENERGY = RankPolicy(_energy, _fraction, "smallest k with rank_value of Σσ²")
UNIFORM = RankPolicy(lambda shape, S, value, name: budget_rank(shape, value), uses_budget=True,
                     description="the same share decompose.budget of parameters in every matrix")
ENERGY_BUDGET = RankPolicy(lambda shape, S, value, name: min(shape), uses_budget=True, global_ranks=_energy_budget,
                           description="one energy fraction for all matrices, the largest that fits decompose.budget")
