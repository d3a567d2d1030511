"""Importance scorers: a score per placement unit of every analog matrix.

A registry (``SCORERS``): ``register_scorer(name, fn, needs_batches=...)`` where
``fn(model, batches, n_batches, names, progress) -> Importance``. Built-ins:

- ``grad_abs`` / ``grad_sq``: |∂L/∂σ_i| (or its square) of each singular component, computed per
  batch and averaged over a window of many batches (not one batch, unlike the authors' notebook). Under
  ``accelerate launch`` the window's batches are shared out among the processes and the sums added up.
- ``grad_last``: the authors' choice, |∂L/∂σ_i| of the last training batch of the window only.
- ``singular_value``: σ_i itself (rank order after SVD) — ablation baseline.
- ``random``: a seeded random score per component (seed 0) — the floor any selection rule must beat.
- ``magnitude``: no SVD; the unit is one output row of W and its score is the row's L2 norm — the
  brute-force baseline that places whole rows of the original matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from hyflexpim.config import Registry
from hyflexpim.errors import NumericalError, UserError
from hyflexpim.models.discover import find_matrices, is_matrix
from hyflexpim.models.layers import SVDLinear, dense_weight


@dataclass
class Importance:
    scorer: str
    unit: str  # "component" or "row"
    scores: dict[str, torch.Tensor]  # matrix name -> score per unit
    batches: int = 0


def svd_layers(model: nn.Module) -> dict[str, SVDLinear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, SVDLinear)}


def gradient_importance(model: nn.Module, batches, n_batches: int = 32, reduce: str = "abs",
                        progress: bool = True) -> Importance:
    """Average over ``n_batches`` batches of |g| (reduce="abs") or g² (reduce="sq"), g = ∂L/∂σ per batch; or
    (reduce="last") |g| of the window's last batch alone, the authors' released code's choice."""
    layers = svd_layers(model)
    if not layers:
        raise UserError("gradient importance needs a decomposed model (run decompose first)")
    if n_batches < 1:
        raise UserError(f"importance window must be >= 1 batch, got {n_batches}")
    was_training = model.training
    model.eval()  # no dropout: the score is a property of the weights, not of a dropout mask
    req = {n: p.requires_grad for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.requires_grad_(n.endswith(".S"))
    acc = {n: torch.zeros_like(m.S, dtype=torch.float64) for n, m in layers.items()}
    seen = 0
    rank, world = process_group()
    index = 0  # the global batch index: under N processes, process r scores batches r, r + N, ... of the window
    bar = tqdm(total=n_batches, desc="importance", disable=not progress, leave=False)
    try:
        while seen < n_batches:
            for batch in batches:
                index += 1
                if (index - 1) % world != rank or (reduce == "last" and index < n_batches):
                    seen += 1
                    if seen >= n_batches:
                        break
                    continue
                model.zero_grad(set_to_none=True)
                loss = model(**batch).loss
                if not torch.isfinite(loss):
                    raise NumericalError(f"NaN/inf loss in step 'importance' at batch {seen}")
                loss.backward()
                for n, m in layers.items():
                    g = m.S.grad.double()
                    acc[n] += g * g if reduce == "sq" else g.abs()
                seen += 1
                bar.update(1)
                if seen >= n_batches:
                    break
            if seen == 0:
                raise UserError("importance: the dataset gave no batches")
    finally:
        bar.close()
        model.zero_grad(set_to_none=True)
        for n, p in model.named_parameters():
            p.requires_grad_(req[n])
        model.train(was_training)
    if world > 1:  # the window's sum over every process's batches

        for a in acc.values():
            dist.all_reduce(a, op=dist.ReduceOp.SUM)
    used = 1 if reduce == "last" else seen
    scores = {n: (a / used).float() for n, a in acc.items()}
    return Importance(scorer=f"grad_{reduce}", unit="component", scores=scores, batches=used)


def process_group() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed group (``accelerate launch``), or (0, 1) for one process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def concentration(imp: Importance, shares=(5, 10, 20)) -> dict[str, float]:
    """The share of all importance held by the top ``p`` % of each matrix's units, pooled over the matrices
    (the paper's Fig. 11 story as a number: after redistribution a few components should hold most of it)."""
    total = sum(float(s.double().sum()) for s in imp.scores.values())
    out = {}
    for p in shares:
        top = sum(float(s.double().sort(descending=True).values[:max(1, round(p / 100 * s.numel()))].sum())
                  for s in imp.scores.values())
        out[f"top{p:g}"] = top / total if total > 0 else float("nan")
    return out


def singular_value_importance(model: nn.Module) -> Importance:
    layers = svd_layers(model)
    if not layers:
        raise UserError("singular-value importance needs a decomposed model (run decompose first)")
    return Importance("singular_value", "component", {n: m.S.detach().abs().float().clone() for n, m in layers.items()})


def magnitude_importance(model: nn.Module, names: list[str]) -> Importance:
    """Row L2 norms of the original (undecomposed) matrices ``names``."""
    scores = {}
    for info in find_matrices(model):
        if info.name not in names:
            continue
        module = model.get_submodule(info.name)
        if not is_matrix(module):
            raise UserError(f"magnitude importance needs the undecomposed matrix {info.name}")
        scores[info.name] = dense_weight(module).float().norm(dim=1)
    return Importance("magnitude", "row", scores)


@dataclass(frozen=True)
class Scorer:
    fn: Callable[..., Importance]  # (model, batches, n_batches, names, progress) -> Importance
    needs_batches: bool = False  # True: scores come from data (gradients), so the run passes training batches
    unit: str = "component"  # "component" (needs a decomposed model) or "row" (the original matrices)


SCORERS: Registry[Scorer] = Registry("importance scorer")


def register_scorer(name: str, fn: Callable[..., Importance], needs_batches: bool = False, unit: str = "component",
                    replace: bool = False) -> Scorer:
    return SCORERS.register(name, Scorer(fn, needs_batches, unit), replace)


def layer_matrix_names(model: nn.Module) -> list[str]:
    return [i.name for i in find_matrices(model) if i.layer is not None and i.role != "head"]


register_scorer("grad_abs", lambda model, batches, n, names, progress: gradient_importance(model, batches, n, "abs",
                                                                                          progress),
                needs_batches=True)
register_scorer("grad_sq", lambda model, batches, n, names, progress: gradient_importance(model, batches, n, "sq",
                                                                                         progress),
                needs_batches=True)
register_scorer("grad_last", lambda model, batches, n, names, progress: gradient_importance(model, batches, n, "last",
                                                                                             progress),
                needs_batches=True)
register_scorer("singular_value", lambda model, batches, n, names, progress: singular_value_importance(model))
def random_importance(model: nn.Module, seed: int = 0) -> Importance:
    layers = svd_layers(model)
    if not layers:
        raise UserError("random importance needs a decomposed model (run decompose first)")
    g = torch.Generator().manual_seed(seed)
    return Importance("random", "component", {n: torch.rand(m.S.shape, generator=g) for n, m in layers.items()})


register_scorer("random", lambda model, batches, n, names, progress: random_importance(model))
register_scorer("magnitude", lambda model, batches, n, names, progress:
                magnitude_importance(model, names if names is not None else layer_matrix_names(model)), unit="row")


def score_importance(model: nn.Module, scorer: str = "grad_abs", batches=None, n_batches: int = 32,
                     names: list[str] | None = None, progress: bool = True) -> Importance:
    """The model-level verb: score every analog unit with the chosen (registered) scorer."""
    entry = SCORERS.get(scorer, "importance scorer")
    if entry.needs_batches and batches is None:
        raise UserError(f"importance scorer '{scorer}' needs data batches")
    imp = entry.fn(model, batches, n_batches, names, progress)
    if not isinstance(imp, Importance):
        raise UserError(f"importance scorer '{scorer}' must return an Importance, got {type(imp).__name__}")
    return imp
