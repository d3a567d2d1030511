"""decompose(model, config): replace the chosen weight matrices by SVDLinear, in place.

Which matrices: by default every matrix inside the transformer layers (a layer index was found
in its module path); the head, the pooler and anything outside the layers stay digital. Every
matrix left digital is reported with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field, field_validator, model_validator
from torch import nn

from hyflexpim.algo.rank import RANK_POLICIES, choose_rank
from hyflexpim.algo.soft_rank import SoftRankConfig
from hyflexpim.config import Strict
from hyflexpim.models.discover import MatrixInfo, find_matrices
from hyflexpim.models.layers import SVDLinear, replace_module

ALL_LAYER_ROLES = ["q", "k", "v", "qkv", "o", "ffn_in", "ffn_gate", "ffn_out", "other"]


class DecomposeConfig(Strict):
    """Which matrices become SVDLinear, and at what rank (``rank_policy``: a registered rank policy)."""

    rank_policy: str = "hard_threshold"
    rank_value: float | None = Field(None, description="ratio or energy fraction in (0,1], or the fixed rank")
    roles: list[str] = Field(default_factory=lambda: list(ALL_LAYER_ROLES), description="roles to decompose")
    include_outside_layers: bool = Field(False, description="also decompose matrices outside the layers (not the head)")
    exclude: list[str] = Field(default_factory=list, description="regexes on module names to keep digital")
    budget: float | None = Field(None, gt=0, le=1, description="rank policy 'learned': the share of the decomposed "
                                 "matrices' parameters the learned ranks keep")
    soft_rank: SoftRankConfig = Field(default_factory=SoftRankConfig, description="rank policy 'learned': the soft "
                                      "threshold, penalty and schedule (hyflexpim.algo.soft_rank)")

    @field_validator("rank_policy")
    @classmethod
    def _known_policy(cls, v: str) -> str:
        return RANK_POLICIES.check(v)

    @field_validator("exclude")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression ({e})") from None
        return v

    @model_validator(mode="after")
    def _rank_value(self) -> "DecomposeConfig":
        problem = RANK_POLICIES.get(self.rank_policy).check(self.rank_value)
        if problem:
            raise ValueError(f"decompose.rank_value {problem}")
        if self.rank_policy == "learned" and self.budget is None:
            raise ValueError("decompose.budget: rank policy 'learned' needs a budget in (0, 1] (e.g. 0.5: half the "
                             "decomposed matrices' parameters)")
        return self


@dataclass
class Placement:
    """One matrix of the model and whether it is analog (decomposed) or stays digital."""

    info: MatrixInfo
    analog: bool
    reason: str | None = None
    rank: int | None = None


def placement(info: MatrixInfo, config: DecomposeConfig) -> tuple[bool, str | None]:
    if info.role == "head":
        return False, "head/classifier stays digital"
    if info.layer is None and not config.include_outside_layers:
        return False, "outside the transformer layers"
    if info.role not in config.roles:
        return False, f"role '{info.role}' not selected for decomposition"
    for pattern in config.exclude:
        if re.search(pattern, info.name):
            return False, f"excluded by pattern '{pattern}'"
    return True, None


def decompose(model: nn.Module, config: DecomposeConfig | None = None, progress=None) -> list[Placement]:
    """Replace the selected matrices of ``model`` by SVDLinear (in place); return every matrix's placement."""
    config = config or DecomposeConfig()
    result = []
    matrices = find_matrices(model)
    for info in (progress(matrices) if progress else matrices):
        analog, reason = placement(info, config)
        module = model.get_submodule(info.name)
        if not analog:
            result.append(Placement(info, False, reason))
            continue
        if isinstance(module, SVDLinear):
            result.append(Placement(info, True, None, module.rank))
            continue
        rank_fn = lambda S, i=info: choose_rank(config.rank_policy, i.shape, S, config.rank_value, i.name)
        svd = SVDLinear.from_module(module, rank_fn)
        replace_module(model, info.name, svd)
        del module
        result.append(Placement(info, True, None, svd.rank))
    return result


def placements(model: nn.Module, config: DecomposeConfig | None = None) -> list[Placement]:
    """Placements of a model that may already be decomposed (no change to the model)."""
    config = config or DecomposeConfig()
    out = []
    for info in find_matrices(model):
        module = model.get_submodule(info.name)
        if isinstance(module, SVDLinear):
            out.append(Placement(info, True, None, module.rank))
        else:
            analog, reason = placement(info, config)
            out.append(Placement(info, analog, reason))
    return out
