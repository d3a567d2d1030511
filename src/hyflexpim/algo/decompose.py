"""decompose(model, config): replace the chosen weight matrices by SVDLinear, in place.

Which matrices: by default every matrix inside the transformer layers (a layer index was found
in its module path); the head, the pooler and anything outside the layers stay digital. Every
matrix left digital is reported with the reason.

How: ``method`` is a registered decomposition (``hyflexpim.algo.factorize``: plain SVD, ASVD, SVD-LLM
whitening, FWSVD); the last three need calibration statistics (``calibration(model, config, batches)``),
passed to ``decompose(..., stats=...)``. The rank is the rank policy's (``hyflexpim.algo.rank``); a global
policy decides all ranks at once after every matrix is factorised.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
from dataclasses import dataclass

from pydantic import Field, field_validator, model_validator
from torch import nn

from hyflexpim.algo.calibration import fisher_rows, input_statistics
from hyflexpim.algo.factorize import FACTORIZATIONS, factorize
from hyflexpim.algo.rank import RANK_POLICIES, choose_rank
from hyflexpim.algo.soft_rank import SoftRankConfig, truncate_to
from hyflexpim.config import Strict, one_of
from hyflexpim.errors import UserError
from hyflexpim.models.discover import MatrixInfo, find_matrices
from hyflexpim.models.layers import SVDLinear, dense_weight, replace_module

ALL_LAYER_ROLES = ["q", "k", "v", "qkv", "o", "ffn_in", "ffn_gate", "ffn_out", "other"]


class DecomposeConfig(Strict):
    """Which matrices become SVDLinear, and at what rank (``rank_policy``: a registered rank policy)."""

    rank_policy: str = "hard_threshold"
    rank_value: float | None = Field(None, description="ratio or energy fraction in (0,1], or the fixed rank")
    roles: list[str] = Field(default_factory=lambda: list(ALL_LAYER_ROLES), description="roles to decompose")
    include_outside_layers: bool = Field(False, description="also decompose matrices outside the layers (not the head)")
    exclude: list[str] = Field(default_factory=list, description="regexes on module names to keep digital")
    budget: float | None = Field(None, gt=0, le=1, description="rank policies learned, uniform, energy_budget: the "
                                 "share of the decomposed matrices' parameters kept")
    method: str = Field("svd", description="a registered decomposition method (hyflexpim.algo.factorize): svd, asvd, "
                        "whiten, fisher")
    calibration_batches: int = Field(16, ge=1, description="training batches behind asvd / whiten / fisher statistics")
    asvd_alpha: float = Field(0.5, ge=0, le=2, description="method asvd: the exponent α of mean|x|")
    soft_rank: SoftRankConfig = Field(default_factory=SoftRankConfig, description="rank policy 'learned': the soft "
                                      "threshold, penalty and schedule (hyflexpim.algo.soft_rank)")

    @field_validator("rank_policy")
    @classmethod
    def _known_policy(cls, v: str) -> str:
        return RANK_POLICIES.check(v)

    @field_validator("method")
    @classmethod
    def _known_method(cls, v: str) -> str:
        return FACTORIZATIONS.check(v)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, v: list[str]) -> list[str]:
        return [one_of(r, ALL_LAYER_ROLES, "role of a matrix inside the layers") for r in v]

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
    def _rank_value(self) -> DecomposeConfig:
        problem = RANK_POLICIES.get(self.rank_policy).check(self.rank_value)
        if problem:
            raise ValueError(f"decompose.rank_value {problem}")
        if RANK_POLICIES.get(self.rank_policy).uses_budget and self.budget is None:
            raise ValueError(f"decompose.budget: rank policy '{self.rank_policy}' needs a budget in (0, 1] (e.g. 0.5: "
                             "half the decomposed matrices' parameters)")
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
    if info.kind == "conv1x1":
        return False, "1×1 convolution (embedding network) stays digital"
    if info.layer is None and not config.include_outside_layers:
        return False, "outside the transformer layers"
    if info.role not in config.roles:
        return False, f"role '{info.role}' not selected for decomposition"
    for pattern in config.exclude:
        if re.search(pattern, info.name):
            return False, f"excluded by pattern '{pattern}'"
    return True, None


def analog_names(model: nn.Module, config: DecomposeConfig) -> list[str]:
    """The matrices ``decompose`` would replace (those not decomposed yet)."""
    return [i.name for i in find_matrices(model) if placement(i, config)[0]
            and not isinstance(model.get_submodule(i.name), SVDLinear)]


def calibration(model: nn.Module, config: DecomposeConfig, batches, progress: bool = True) -> dict[str, dict] | None:
    """The statistics ``config.method`` needs, per matrix to decompose (None for plain SVD)."""
    needs = FACTORIZATIONS.get(config.method, "decompose.method").needs
    if needs is None:
        return None
    names = analog_names(model, config)
    if needs == "fisher":
        return {n: {"fisher": f} for n, f in
                fisher_rows(model, batches, names, config.calibration_batches, progress).items()}
    st = input_statistics(model, batches, names, config.calibration_batches, gram=needs == "gram", progress=progress)
    return {n: {"abs_mean": st.abs_mean(n), **({"gram": st.gram[n] / max(st.count[n], 1)} if needs == "gram" else {})}
            for n in names}


def release_memory(collect: bool = False) -> None:
    """Hand freed memory back to the system: (``collect``) collect Python garbage, then (glibc) trim the allocator's
    free pages, which it otherwise keeps — after each matrix's SVD its full-rank factors are such pages."""
    if collect:
        gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def decompose(model: nn.Module, config: DecomposeConfig | None = None, progress=None,
              stats: dict[str, dict] | None = None, weights=None) -> list[Placement]:
    """Replace the selected matrices of ``model`` by SVDLinear (in place); return every matrix's placement.
    ``stats``: per matrix, the calibration ``config.method`` needs (from :func:`calibration`). ``weights(name,
    module) -> (W [d_out, d_in], bias or None)``: where each matrix's weights come from (default: the module;
    :mod:`hyflexpim.algo.decompose_checkpoint` reads them one at a time from a checkpoint file). The SVD's
    full-rank temporaries are freed after every matrix."""
    config = config or DecomposeConfig()
    rule = RANK_POLICIES.get(config.rank_policy, "decompose.rank_policy")
    needs = FACTORIZATIONS.get(config.method, "decompose.method").needs
    value = config.budget if rule.uses_budget else config.rank_value
    result, fresh = [], {}
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
        if needs and (stats is None or info.name not in stats):
            raise UserError(f"decompose.method '{config.method}' needs calibration statistics for {info.name} "
                            "(hyflexpim.algo.decompose.calibration)")
        W, bias = weights(info.name, module) if weights else (dense_weight(module), getattr(module, "bias", None))
        dtype = W.dtype
        U, S, Vh = factorize(config.method, W, (stats or {}).get(info.name), config)
        del W
        k = choose_rank(config.rank_policy, info.shape, S.float(), value, info.name)
        svd = SVDLinear(U[:, :k].to(dtype), S[:k].to(dtype), Vh[:k].to(dtype), bias)
        del U, Vh, bias
        replace_module(model, info.name, svd)
        del module
        fresh[info.name] = (info.shape, S.float())
        result.append(Placement(info, True, None, svd.rank))
        del S, svd
        release_memory()
    if rule.global_ranks is not None and fresh:
        ranks = rule.global_ranks(fresh, value)
        truncate_to(model, ranks)
        release_memory(collect=True)
        result = [Placement(p.info, True, None, ranks[p.info.name]) if p.info.name in ranks else p for p in result]
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
