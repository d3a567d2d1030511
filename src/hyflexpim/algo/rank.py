"""Rank policies: how many singular components each matrix keeps. Computed per matrix, never shared.

A registry: ``register_rank_policy(name, rank_fn, check=...)`` where ``rank_fn(shape, singular_values,
value, name) -> int`` and ``check(value) -> str | None`` says what is wrong with ``decompose.rank_value``
(called when the configuration is loaded, before any work). Built-ins: ``hard_threshold`` (the paper's
k = d_out·d_in/(d_out+d_in)), ``full``, ``fixed`` (rank_value = k), ``ratio`` (rank_value · min(d_out, d_in)),
``energy`` (smallest k holding rank_value of Σσ²), ``learned`` (full rank, then learned during redistribution:
``hyflexpim.algo.soft_rank``).

Policies that spend ``decompose.budget`` (a share of the decomposed matrices' dense parameters; a component of
a d_out × d_in matrix costs d_out + d_in): ``uniform`` (the same share in every matrix,
k = ⌊budget · d_out·d_in/(d_out+d_in)⌋), ``energy_budget`` (one energy fraction shared by all matrices, the
largest whose ranks fit the budget: a global policy, ``global_ranks(entries, budget) -> {name: k}`` over every
matrix's shape and singular values) and ``learned``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from hyflexpim.config import Registry
from hyflexpim.errors import UserError
from hyflexpim.plan import budget_rank, hard_threshold_rank


@dataclass(frozen=True)
class RankPolicy:
    rank: Callable[..., int]  # (shape, singular_values, value, name) -> k
    check: Callable[[float | None], str | None] = lambda value: None
    description: str = ""
    uses_budget: bool = False  # True: reads decompose.budget (required) instead of rank_value
    global_ranks: Callable[..., dict[str, int]] | None = None  # ({name: (shape, S)}, budget) -> {name: k}


RANK_POLICIES: Registry[RankPolicy] = Registry("rank policy")


def register_rank_policy(name: str, rank: Callable[..., int], check=None, description: str = "",
                         replace: bool = False, uses_budget: bool = False, global_ranks=None) -> RankPolicy:
    return RANK_POLICIES.register(name, RankPolicy(rank, check or (lambda value: None), description, uses_budget,
                                                   global_ranks), replace)


def _fraction(value) -> str | None:
    return None if value is not None and 0 < value <= 1 else f"must be in (0, 1] for this rank policy, got {value}"


def _integer_rank(value) -> str | None:
    return None if value is not None and value == int(value) and value >= 1 else \
        f"must be an integer rank >= 1 for rank policy 'fixed', got {value}"


def _fixed(shape, S, value, name):
    full = min(shape)
    if value is None or int(value) != value or not 1 <= int(value) <= full:
        raise UserError(f"rank for {name or 'matrix'} {list(shape)} must be an integer in 1..{full}, got {value}")
    return int(value)


def _energy(shape, S, value, name):
    if S is None:
        raise ValueError("energy policy needs the singular values")
    e = torch.cumsum(S.double() ** 2, 0)
    k = int(torch.searchsorted(e / e[-1], torch.tensor(value, dtype=e.dtype) - 1e-12)) + 1
    return max(1, min(min(shape), k))


register_rank_policy("hard_threshold", lambda shape, S, value, name: min(min(shape), hard_threshold_rank(*shape)),
                     description="k = d_out·d_in/(d_out+d_in): as many weights as W (the paper's)")
register_rank_policy("full", lambda shape, S, value, name: min(shape), description="k = min(d_out, d_in): exact")
register_rank_policy("fixed", _fixed, _integer_rank, "k = rank_value")
register_rank_policy("ratio", lambda shape, S, value, name: max(1, min(min(shape), round(value * min(shape)))),
                     _fraction, "k = rank_value · min(d_out, d_in)")
register_rank_policy("energy", _energy, _fraction, "smallest k with rank_value of Σσ²")
register_rank_policy("learned", lambda shape, S, value, name: min(shape), uses_budget=True,
                     description="full rank at decomposition; redistribution learns each matrix's rank by soft "
                                 "thresholding towards decompose.budget (hyflexpim.algo.soft_rank)")


def _energy_budget(entries: dict, budget: float) -> dict[str, int]:
    """One energy fraction e for every matrix: the largest whose ranks (smallest k with e of Σσ²) fit the budget."""
    allowed = budget * sum(shape[0] * shape[1] for shape, _ in entries.values())
    cums = {n: torch.cumsum(S.double() ** 2, 0) / float((S.double() ** 2).sum().clamp_min(1e-300))
            for n, (_, S) in entries.items()}

    def ranks(e: float) -> dict[str, int]:
        return {n: max(1, min(len(c), int(torch.searchsorted(c, torch.tensor(e, dtype=c.dtype) - 1e-12)) + 1))
                for n, c in cums.items()}

    def cost(r):
        return sum(r[n] * sum(shape) for n, (shape, _) in entries.items())

    lo, hi = 0.0, 1.0
    if cost(ranks(hi)) <= allowed:
        return ranks(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost(ranks(mid)) <= allowed else (lo, mid)
    return ranks(lo)


register_rank_policy("uniform", lambda shape, S, value, name: budget_rank(shape, value), uses_budget=True,
                     description="the same share decompose.budget of parameters in every matrix")
register_rank_policy("energy_budget", lambda shape, S, value, name: min(shape), uses_budget=True,
                     global_ranks=_energy_budget,
                     description="one energy fraction for all matrices, the largest that fits decompose.budget")


def choose_rank(policy: str, shape: tuple[int, int], singular_values: torch.Tensor | None = None,
                value: float | None = None, name: str = "") -> int:
    """The rank of one matrix under a registered policy (``DecomposeConfig`` checks ``value`` when loaded)."""
    rule = RANK_POLICIES.get(policy, "decompose.rank_policy")
    if rule.check(value) and policy != "fixed":  # fixed names the matrix and its allowed ranks itself
        raise UserError(f"decompose.rank_value: {rule.check(value)}")
    return int(rule.rank(tuple(shape), singular_values, value, name))
