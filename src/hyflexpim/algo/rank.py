"""Rank policies: how many singular components each matrix keeps. Computed per matrix, never shared.

A registry: ``register_rank_policy(name, rank_fn, check=...)`` where ``rank_fn(shape, singular_values,
value, name) -> int`` and ``check(value) -> str | None`` says what is wrong with ``decompose.rank_value``
(called when the configuration is loaded, before any work). The built-in policies are method folders
(``hyflexpim/methods/rank/``: ``static/`` holds ``hard_threshold`` (the paper's k = d_out·d_in/(d_out+d_in)),
``full``, ``fixed`` (rank_value = k), ``ratio`` (rank_value · min(d_out, d_in)), ``energy`` (smallest k holding
rank_value of Σσ²), ``uniform`` and ``energy_budget``; ``learned/`` is full rank, then learned during
redistribution by its hooks (``hyflexpim.algo.soft_rank``)), registered from ``hyflexpim.config.methods`` when
the registry is first read (importing this module registers nothing). A policy's optional :class:`RankHooks` are
what the redistribution step calls (:func:`rank_hooks`).

Policies that spend ``decompose.budget`` (a share of the decomposed matrices' dense parameters; a component of
a d_out × d_in matrix costs d_out + d_in): ``uniform`` (the same share in every matrix,
k = ⌊budget · d_out·d_in/(d_out+d_in)⌋), ``energy_budget`` (one energy fraction shared by all matrices, the
largest whose ranks fit the budget: a global policy, ``global_ranks(entries, budget) -> {name: k}`` over every
matrix's shape and singular values) and ``learned``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hyflexpim.artefacts import RunFolder
from hyflexpim.config import Registry
from hyflexpim.config.methods import RankMethod, fill_from, rank_methods
from hyflexpim.errors import UserError
from hyflexpim.plan import budget_rank, hard_threshold_rank

__all__ = ["RANK_POLICIES", "RankHooks", "RankPolicy", "budget_rank", "choose_rank", "hard_threshold_rank",
           "rank_hooks", "register_rank_policy"]


class RankHooks:
    """A rank policy's hooks into the run's redistribution step; this default does nothing (a static policy).
    ``learned`` overrides them (``hyflexpim.methods.rank.learned.hooks``)."""

    def restore(self, model: Any, files: RunFolder) -> None:
        """Before a saved redistributed model is loaded into ``model`` (a copy of the decomposed one): give
        ``model`` the saved model's shapes."""

    def before_redistribution(self, model: Any, decompose: Any) -> tuple[Any, dict[str, Any]]:
        """Before the redistribution fine-tune: (a state for :meth:`after_redistribution`, extra keyword
        arguments of ``hyflexpim.algo.finetune.finetune``: ``regularizer``, ``on_step``, ``extra``)."""
        return None, {}

    def after_redistribution(self, model: Any, state: Any, decompose: Any, files: RunFolder,
                             say: Callable[[str], None], write: bool) -> None:
        """After the fine-tune, before the model is saved; ``write``: this process writes the run folder."""

    def artefacts(self, files: RunFolder) -> list[Path]:
        """The files of a run folder this policy writes beside the redistributed model (dropped with it)."""
        return []

    def figures(self, files: RunFolder, plan: Any, title: str) -> list[Path]:
        """The report step's figures of this policy, drawn from what it wrote and the plan (no model loaded)."""
        return []


NO_HOOKS = RankHooks()  # a static policy's (stateless: one instance serves every policy)


@dataclass(frozen=True)
class RankPolicy:
    rank: Callable[..., int]  # (shape, singular_values, value, name) -> k
    check: Callable[[float | None], str | None] = lambda value: None
    description: str = ""
    uses_budget: bool = False  # True: reads decompose.budget (required) instead of rank_value
    global_ranks: Callable[..., dict[str, int]] | None = None  # ({name: (shape, S)}, budget) -> {name: k}
    hooks: RankHooks = NO_HOOKS
    checks_value: bool = False  # True: ``rank`` checks ``value`` itself, naming the matrix (``check`` at load only)


def _policy(method: RankMethod) -> RankPolicy:
    """A rank policy folder's policy with its training hooks, if it has any."""
    policy, hooks = method.load("policy"), method.load("hooks")
    return policy if hooks is None else dataclasses.replace(policy, hooks=hooks)


# the rank policy folders (``hyflexpim.config.methods.RANK_PACKAGES``), at the first read
RANK_POLICIES: Registry[RankPolicy] = Registry("rank policy", fill=fill_from(rank_methods, _policy))


def register_rank_policy(name: str, rank: Callable[..., int], check=None, description: str = "",
                         replace: bool = False, uses_budget: bool = False, global_ranks=None,
                         hooks: RankHooks | None = None) -> RankPolicy:
    return RANK_POLICIES.register(name, RankPolicy(rank, check or (lambda value: None), description, uses_budget,
                                                   global_ranks, hooks or NO_HOOKS), replace)


def rank_hooks(policy: str) -> RankHooks:
    """The redistribution hooks of a registered rank policy (the default's do nothing)."""
    return RANK_POLICIES.get(policy, "decompose.rank_policy").hooks


def choose_rank(policy: str, shape: tuple[int, int], singular_values: torch.Tensor | None = None,
                value: float | None = None, name: str = "") -> int:
    """The rank of one matrix under a registered policy (``DecomposeConfig`` checks ``value`` when loaded)."""
    rule = RANK_POLICIES.get(policy, "decompose.rank_policy")
    if rule.check(value) and not rule.checks_value:  # e.g. fixed names the matrix and its allowed ranks itself
        raise UserError(f"decompose.rank_value: {rule.check(value)}")
    return int(rule.rank(tuple(shape), singular_values, value, name))
