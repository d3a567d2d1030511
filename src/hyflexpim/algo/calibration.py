"""Calibration statistics of the matrices to decompose, gathered on training batches before the SVD.

- ``input_statistics``: per matrix, the mean |x| of every input channel (ASVD's scaling) and, when asked, the
  Gram matrix XᵀX of its inputs (SVD-LLM's whitening), from forward hooks; positions the attention mask marks
  as padding are left out.
- ``fisher_rows``: per matrix, the empirical Fisher information of each output row, Σ_batches Σ_j (∂L/∂W_ij)²
  (FWSVD's row weights), from the ordinary loss's gradients.

Both return plain tensors keyed by module name; the model is left as it was (no hooks, no gradients, mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from hyflexpim.errors import NumericalError, UserError
from hyflexpim.models.layers import dense_weight


@dataclass
class InputStats:
    abs_sum: dict[str, torch.Tensor] = field(default_factory=dict)  # Σ|x_j| per input channel (float64)
    gram: dict[str, torch.Tensor] = field(default_factory=dict)  # Σ x xᵀ (float64), when asked
    count: dict[str, int] = field(default_factory=dict)  # tokens seen

    def abs_mean(self, name: str) -> torch.Tensor:
        return self.abs_sum[name] / max(self.count[name], 1)


def _batches(batches, n_batches: int):
    if n_batches < 1:
        raise UserError(f"decompose.calibration_batches must be >= 1, got {n_batches}")
    seen = 0
    while seen < n_batches:
        before = seen
        for batch in batches:
            yield batch
            seen += 1
            if seen >= n_batches:
                return
        if seen == before:
            raise UserError("calibration: the dataset gave no batches")


@torch.no_grad()
def input_statistics(model: nn.Module, batches, names: list[str], n_batches: int = 16, gram: bool = False,
                     progress: bool = True) -> InputStats:
    """Inputs seen by the matrices ``names`` over ``n_batches`` batches (padding positions left out)."""
    stats = InputStats()
    mask: list[torch.Tensor | None] = [None]

    def hook(name):
        def fn(module, args):
            x = args[0].detach()
            if mask[0] is not None and x.dim() == 3 and x.shape[:2] == mask[0].shape:
                x = x[mask[0]]
            x = x.reshape(-1, x.shape[-1]).double()
            stats.abs_sum[name] = stats.abs_sum.get(name, 0) + x.abs().sum(0)
            stats.count[name] = stats.count.get(name, 0) + x.shape[0]
            if gram:
                stats.gram[name] = stats.gram.get(name, 0) + x.T @ x
        return fn

    handles = [model.get_submodule(n).register_forward_pre_hook(hook(n)) for n in names]
    was_training = model.training
    model.eval()
    try:
        for batch in tqdm(_batches(batches, n_batches), total=n_batches, desc="calibration", disable=not progress,
                          leave=False):
            m = batch.get("attention_mask")
            mask[0] = m.bool() if m is not None else None
            model(**{k: v for k, v in batch.items() if k != "labels"})
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return stats


def fisher_rows(model: nn.Module, batches, names: list[str], n_batches: int = 16,
                progress: bool = True) -> dict[str, torch.Tensor]:
    """Σ over batches of Σ_j (∂L/∂W_ij)² for every output row i of the matrices ``names`` ([d_out], float64)."""
    modules = {n: model.get_submodule(n) for n in names}
    req = {n: p.requires_grad for n, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for m in modules.values():
        m.weight.requires_grad_(True)
    acc = {n: torch.zeros(dense_weight(m).shape[0], dtype=torch.float64) for n, m in modules.items()}
    was_training = model.training
    model.eval()
    try:
        for i, batch in enumerate(tqdm(_batches(batches, n_batches), total=n_batches, desc="fisher",
                                       disable=not progress, leave=False)):
            model.zero_grad(set_to_none=True)
            loss = model(**batch).loss
            if not torch.isfinite(loss):
                raise NumericalError(f"NaN/inf loss in step 'fisher' at batch {i}")
            loss.backward()
            for n, m in modules.items():
                g = m.weight.grad if isinstance(m, nn.Linear) else m.weight.grad.t()
                acc[n] += (g.double() ** 2).sum(1)
    finally:
        model.zero_grad(set_to_none=True)
        for n, p in model.named_parameters():
            p.requires_grad_(req[n])
        model.train(was_training)
    return acc


__all__ = ["InputStats", "fisher_rows", "input_statistics"]
