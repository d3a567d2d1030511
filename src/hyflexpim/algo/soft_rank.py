"""Learned per-matrix rank by soft thresholding of the singular values (after SoftLMs, arXiv 2411.10543).

The paper's exact formulation is not public; this is a faithful version of its idea, with the parts the
abstract leaves open as settings (``SoftRankConfig``):

- every decomposed matrix (``SVDLinear``) gets a learnable threshold α, initialised from its own singular
  values (``init``: α = ``init_fraction`` · σ at the matrix's budget rank, or 0);
- Σ is clipped differentiably: ``soft_shrink`` uses ReLU(σ − α) (a component below α contributes nothing, so
  it is truly dead), ``sigmoid_gate`` σ · sigmoid((σ − α)/T) with the temperature T annealed from
  ``temperature`` to ``temperature_end`` (T is relative to the matrix's largest singular value);
- the effective rank is the number of components that survive (σ > α); the penalty sees that count with
  the gradient of its relaxation Σ_i sigmoid((σ_i − α)/T) (straight-through);
- a budget penalty λ · (P_soft / P_target − 1)² drives the parameters of the decomposed matrices,
  P = Σ_m rank_m · (d_out + d_in) (equal to their MACs per token), to ``budget`` · Σ_m d_out · d_in
  (``decompose.budget``);
  ``min_rank`` floors per role (e.g. ``{v: 8}``) hold under the penalty and at truncation;
- ``harden(model)`` removes the dead components (hard truncation) and stores U and the clipped Σ, Vᵀ at the
  learned ranks: the model is again plain ``SVDLinear`` layers.

    soft = enable_soft_rank(model, SoftRankConfig(), budget=0.5)
    finetune(model, batches, cfg, regularizer=soft.penalty, on_step=soft.anneal,
             extra=(soft.parameters(), soft.config.lr_scale))
    ranks = soft.finish(model)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.nn import functional as F

from hyflexpim.algo.rank import budget_rank
from hyflexpim.config import Strict, one_of
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear


class SoftRankConfig(Strict):
    """Settings of the learned rank (``decompose.rank_policy: learned``; the target is ``decompose.budget``)."""

    config_name = "decompose.soft_rank"
    threshold: Literal["soft_shrink", "sigmoid_gate"] = Field("sigmoid_gate", description="the differentiable clip")
    penalty: float = Field(10.0, ge=0, description="λ of the budget penalty (P_soft / P_target − 1)²")
    temperature: float = Field(0.05, gt=0, description="T at the start, relative to each matrix's largest σ")
    temperature_end: float = Field(0.005, gt=0, description="T at the end of the fine-tune (annealed geometrically)")
    init: Literal["budget", "zero"] = Field("budget", description="α from σ at the budget rank, or 0 (nothing clipped)")
    init_fraction: float = Field(1.0, ge=0, le=1, description="α = this · σ at the budget rank (init: budget)")
    lr_scale: float = Field(100.0, gt=0, description="the learning rate of α / σ_max relative to the model's (a "
                            "step of lr · lr_scale moves α by that share of the largest singular value)")
    min_rank: dict[str, int] = Field(default_factory=dict, description="per-role floors, e.g. {v: 8}")
    project: bool = Field(True, description="before every step and at the end, move all thresholds by one shared "
                          "amount (in each matrix's σ_max) so the surviving components fit the budget exactly: the "
                          "penalty and the task loss then decide only where the components go")

    @model_validator(mode="after")
    def _floors(self):
        from hyflexpim.plan.schema import ROLES

        for role, r in self.min_rank.items():
            one_of(role, ROLES, "matrix role")
            if r < 1:
                raise ValueError(f"min_rank.{role}: a rank floor must be >= 1, got {r}")
        return self


class SoftSVDLinear(SVDLinear):
    """``SVDLinear`` whose Σ passes through a learnable soft threshold α (see the module docstring)."""

    hyflexpim_kind = "svd"

    def clipped(self) -> torch.Tensor:
        S = self.S
        a = self.threshold_value()
        if self.mode == "soft_shrink":
            return torch.sign(S) * F.relu(S.abs() - a)
        return S * torch.sigmoid((S.abs() - a) / (self.temperature * self.scale))

    def threshold_value(self) -> torch.Tensor:
        """α in σ units: the learnable parameter is α / σ_max (so one learning rate suits every matrix)."""
        return self.alpha * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.Vh) * self.clipped(), self.U, self.bias)

    def alive(self) -> torch.Tensor:
        """Components that survive: σ above α, plus the role's floor (the largest ones)."""
        keep = self.S.detach().abs() > self.threshold_value().detach()
        if self.floor:
            keep[torch.argsort(self.S.detach().abs(), descending=True)[:self.floor]] = True
        return keep

    def soft_rank(self) -> torch.Tensor:
        """The count of surviving components, with the gradient of its sigmoid relaxation (straight-through:
        the value is the hard count the truncation will keep, so the budget lands on what is kept)."""
        soft = torch.sigmoid((self.S.abs() - self.threshold_value()) / (self.temperature * self.scale)).sum()
        hard = self.alive().sum().to(soft.dtype)
        return hard + (soft - soft.detach())


@dataclass
class SoftRank:
    """Returned by :func:`enable_soft_rank`: the penalty and the temperature schedule for the fine-tune."""

    config: SoftRankConfig
    layers: dict[str, SoftSVDLinear]
    target: float  # parameters the budget allows
    dense: float  # parameters of the decomposed matrices at full size (d_out · d_in each)
    history: list[float] = field(default_factory=list)

    def soft_params(self) -> torch.Tensor:
        return sum(m.soft_rank() * sum(m.hyflexpim_shape) for m in self.layers.values())

    def penalty(self) -> torch.Tensor:
        p = self.config.penalty * (self.soft_params() / self.target - 1) ** 2
        self.history.append(float(self.achieved()))
        return p

    def anneal(self, step: int, total: int) -> None:
        """The step callback: the temperature schedule, and the projection onto the budget (``project``)."""
        c = self.config
        t = c.temperature * (c.temperature_end / c.temperature) ** (min(step, total) / max(total, 1))
        for m in self.layers.values():
            m.temperature = t
        if c.project:
            self.project()

    @torch.no_grad()
    def project(self) -> None:
        """Shift every α / σ_max by one shared δ: the components with the largest margins |σ|/σ_max − α/σ_max
        (floors always kept) are the ones that fit the budget, and exactly those survive."""
        fixed, margins, costs = 0.0, [], []
        for m in self.layers.values():
            cost = float(sum(m.hyflexpim_shape))
            t = m.S.detach().abs() / m.scale - m.alpha.detach()
            order = torch.argsort(t, descending=True)
            fixed += cost * m.floor
            margins.append(t[order[m.floor:]])
            costs.append(torch.full((len(order) - m.floor,), cost, dtype=t.dtype))
        t, c = torch.cat(margins), torch.cat(costs)
        if not len(t):
            return
        order = torch.argsort(t, descending=True)
        t, spent = t[order], fixed + torch.cumsum(c[order], 0)
        n = int((spent <= self.target + 1e-6).sum())  # the first n margins fit
        upper = float(t[n - 1]) if n > 0 else float(t[0]) + 1.0
        lower = float(t[n]) if n < len(t) else float(t[-1]) - 1.0
        delta = (upper + lower) / 2  # survivors: margin > delta
        for m in self.layers.values():
            m.alpha += delta

    def ranks(self) -> dict[str, int]:
        return {n: int(m.alive().sum()) for n, m in self.layers.items()}

    def achieved(self) -> float:
        """The share of the decomposed matrices' dense parameters the surviving components hold."""
        return sum(int(m.alive().sum()) * sum(m.hyflexpim_shape) for m in self.layers.values()) / self.dense

    def parameters(self) -> list[nn.Parameter]:
        return [m.alpha for m in self.layers.values()]

    def finish(self, model: nn.Module) -> dict[str, int]:
        """After the fine-tune: back onto the budget (``project``: the last step moved the thresholds), then the
        hard truncation. Returns module name -> learned rank."""
        if self.config.project:
            self.project()
        return harden(model)


def enable_soft_rank(model: nn.Module, config: SoftRankConfig, budget: float = 0.5,
                     roles: dict[str, str] | None = None) -> SoftRank:
    """Give every ``SVDLinear`` of ``model`` a learnable threshold, in place, aiming at ``budget`` (share of the
    decomposed matrices' dense parameters, in (0, 1]). ``roles``: module name -> role (for ``min_rank``)."""
    if not 0 < budget <= 1:
        raise UserError(f"decompose.budget: must be in (0, 1], got {budget}")
    layers = {}
    dense = 0.0
    for name, m in model.named_modules():
        if not isinstance(m, SVDLinear):
            continue
        role = (roles or {}).get(name, "")
        floor = max(1, min(config.min_rank.get(role, 0), m.rank))  # never below one component
        if config.min_rank.get(role, 0) > m.rank:
            raise UserError(f"decompose.soft_rank.min_rank.{role}: {config.min_rank[role]} is above the rank "
                            f"{m.rank} of {name}")
        m.__class__ = SoftSVDLinear
        S = m.S.detach().abs().sort(descending=True).values
        k = min(m.rank, budget_rank(m.hyflexpim_shape, budget))
        a0 = config.init_fraction * float(S[k - 1]) if config.init == "budget" else 0.0
        m.mode, m.floor = config.threshold, floor
        m.scale = float(S[0]) if S.numel() and float(S[0]) > 0 else 1.0
        m.alpha = nn.Parameter(torch.tensor(a0 / m.scale, dtype=m.S.dtype))  # α / σ_max
        m.temperature = config.temperature
        layers[name] = m
        d_out, d_in = m.hyflexpim_shape
        dense += d_out * d_in
    if not layers:
        raise UserError("learned rank: the model has no decomposed matrices (decompose it first)")
    return SoftRank(config, layers, budget * dense, dense)


@torch.no_grad()
def truncate_to(model: nn.Module, ranks: dict[str, int]) -> None:
    """Give the ``SVDLinear`` layers named in ``ranks`` those ranks (the shapes a saved learned-rank model needs
    before its weights are loaded into it; the values are overwritten by the load)."""
    for name, r in ranks.items():
        m = model.get_submodule(name)
        if not isinstance(m, SVDLinear) or not 1 <= r <= m.rank:
            raise UserError(f"learned ranks: {name} cannot take rank {r}")
        m.U, m.S, m.Vh = (nn.Parameter(t[..., :r].clone() if i == 0 else t[:r].clone())
                          for i, t in enumerate((m.U.detach(), m.S.detach(), m.Vh.detach())))


@torch.no_grad()
def harden(model: nn.Module) -> dict[str, int]:
    """Hard truncation: drop the dead components of every ``SoftSVDLinear`` and store U, the clipped Σ and Vᵀ
    at the learned rank as a plain ``SVDLinear``. Returns module name -> learned rank."""
    ranks = {}
    for name, m in list(model.named_modules()):
        if not isinstance(m, SoftSVDLinear):
            continue
        keep = m.alive()
        S = m.clipped()[keep]
        U, Vh = m.U[:, keep], m.Vh[keep]
        m.U = nn.Parameter(U.clone(memory_format=torch.contiguous_format))
        m.S = nn.Parameter(S.clone())
        m.Vh = nn.Parameter(Vh.clone(memory_format=torch.contiguous_format))
        for attr in ("alpha", "mode", "floor", "scale", "temperature"):
            delattr(m, attr)
        m.__class__ = SVDLinear
        ranks[name] = int(keep.sum())
    return ranks


__all__ = ["SoftRank", "SoftRankConfig", "SoftSVDLinear", "enable_soft_rank", "harden", "truncate_to"]
