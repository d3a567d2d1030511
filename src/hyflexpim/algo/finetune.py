"""Fine-tuning through HF Accelerate: the same loop runs on a CPU, one GPU or several.

Under ``accelerate launch --num_processes N`` every process runs this loop on 1/N of each batch (split_batches)
and DDP averages the gradients, so N processes train the model one process trains on the same global batch
(tests/test_distributed.py checks 2 CPU processes against 1).

Used twice: optionally before SVD (to fit a task head), and after SVD, where it is the paper's
gradient redistribution — importance concentrates in a few singular components.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from pydantic import Field
from torch import nn

from hyflexpim.config import Strict
from hyflexpim.errors import NumericalError


class FinetuneConfig(Strict):
    epochs: float = Field(1.0, gt=0, description="passes over the training batches (fractions allowed)")
    lr: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_fraction: float = Field(0.06, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, gt=0, description="stop after this many steps")
    train_sigma_only: bool = Field(False, description="train only Σ of SVD layers (U, Vᵀ frozen)")


@dataclass
class FinetuneResult:
    steps: int = 0
    losses: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        tail = self.losses[-20:]
        return sum(tail) / len(tail) if tail else float("nan")


def first_non_finite(model: nn.Module) -> str:
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            return f"weights of {name}"
        if p.grad is not None and not torch.isfinite(p.grad).all():
            return f"gradient of {name}"
    return "the loss only (weights and gradients are finite)"


def check_finite_weights(model: nn.Module, step: str) -> None:
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise NumericalError(f"NaN/inf in weights of {name} during step '{step}'")


def trainable_parameters(model: nn.Module, sigma_only: bool) -> list[nn.Parameter]:
    if not sigma_only:
        return [p for p in model.parameters() if p.requires_grad]
    return [p for n, p in model.named_parameters() if n.endswith(".S")]


def finetune(model: nn.Module, batches, config: FinetuneConfig | None = None, step_name: str = "finetune",
             progress: bool = True, regularizer=None, on_step=None, extra=None) -> FinetuneResult:
    """Train ``model`` on ``batches`` (a DataLoader of dicts accepted by ``model(**batch)``, with labels).

    ``regularizer()``: a term added to every step's loss (e.g. a budget penalty); ``on_step(step, total)``:
    called before each step (e.g. a temperature schedule); ``extra``: (parameters, lr multiplier) trained in
    their own group (and not in the model's)."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    config = config or FinetuneConfig()
    own = {id(p) for p in (extra[0] if extra else [])}
    params = [p for p in trainable_parameters(model, config.train_sigma_only) if id(p) not in own]
    groups = [{"params": params}]
    if extra:
        groups.append({"params": list(extra[0]), "lr": config.lr * extra[1], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    # split_batches: with N processes each takes 1/N of every batch, so the global batch — and the training —
    # is the one process's (the batch size must divide by N); gradients are averaged across processes (DDP)
    accelerator = Accelerator(split_batches=True)
    model, optimizer, batches = accelerator.prepare(model, optimizer, batches)
    per_epoch = len(batches)
    total = max(1, int(round(config.epochs * per_epoch)))
    if config.max_steps:
        total = min(total, config.max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_fraction * total), total)
    result = FinetuneResult()
    model.train()
    bar = tqdm(total=total, desc=step_name, disable=not progress or not accelerator.is_main_process, leave=False)
    while result.steps < total:
        for batch in batches:
            if on_step is not None:
                on_step(result.steps, total)
            loss = model(**batch).loss
            if regularizer is not None:
                loss = loss + regularizer()
            if not torch.isfinite(loss):
                raise NumericalError(f"NaN/inf loss in step '{step_name}' at iteration {result.steps}: {first_non_finite(model)}")
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            result.losses.append(accelerator.reduce(loss.detach(), "mean").item())  # the global batch's loss
            bar.update(1)
            bar.set_postfix(loss=f"{result.final_loss:.4f}")
            if result.steps >= total:
                break
    bar.close()
    model.eval()
    check_finite_weights(model, step_name)
    accelerator.free_memory()
    return result
