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
from tqdm.auto import tqdm

from hyflexpim.algo.finetune_checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from hyflexpim.config import Strict
from hyflexpim.errors import NumericalError, UserError
from hyflexpim.models.layers import SVDLinear


class LoraOptions(Strict):
    """A LoRA fine-tune (peft): low-rank adapters on the linear layers, merged into the weights at the end, so the
    result is an ordinary model (the authors pre-fine-tune Llama-3.2-1B this way: r = 8, α = 32, lr 5e-6)."""

    r: int = Field(8, ge=1, description="adapter rank")
    alpha: float = Field(32.0, gt=0, description="scaling α (the update is α/r · B A)")
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | None = Field(None, description="module names to adapt (null: every linear layer but "
                                             "the output head, peft's 'all-linear')")


class FinetuneConfig(Strict):
    epochs: float = Field(1.0, gt=0, description="passes over the training batches (fractions allowed)")
    lr: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_fraction: float = Field(0.06, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, gt=0, description="stop after this many steps")
    train_sigma_only: bool = Field(False, description="train only Σ of SVD layers (U, Vᵀ frozen)")
    lora: LoraOptions | None = Field(None, description="train LoRA adapters instead of every weight, merged at the "
                                     "end (needs peft; for a model before SVD: the pre-fine-tune of large decoders)")


@dataclass
class FinetuneResult:
    steps: int = 0
    resumed_from: int = 0  # steps a checkpoint had done before this run
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
             progress: bool = True, regularizer=None, on_step=None, extra=None,
             mixed_precision: str = "no", checkpoint=None) -> FinetuneResult:
    """Train ``model`` on ``batches`` (a DataLoader of dicts accepted by ``model(**batch)``, with labels).

    ``regularizer()``: a term added to every step's loss (e.g. a budget penalty); ``on_step(step, total)``:
    called before each step (e.g. a temperature schedule); ``extra``: (parameters, lr multiplier) trained in
    their own group (and not in the model's). ``mixed_precision`` ("no", "bf16", "fp16"): Accelerate's autocast on
    a GPU (the weights stay float32 masters). ``checkpoint`` (``finetune_checkpoint.Checkpointing``): write a
    checkpoint every so many steps and resume from the one there (same final weights as an uninterrupted run)."""
    # lazy: slow imports only training needs (a run's configuration reads FinetuneConfig from here)
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    config = config or FinetuneConfig()
    if config.lora is not None:
        return _finetune_lora(model, batches, config, step_name, progress, mixed_precision)
    own = {id(p) for p in (extra[0] if extra else [])}
    params = [p for p in trainable_parameters(model, config.train_sigma_only) if id(p) not in own]
    groups = [{"params": params}]
    if extra:
        groups.append({"params": list(extra[0]), "lr": config.lr * extra[1], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    # split_batches: with N processes each takes 1/N of every batch, so the global batch — and the training —
    # is the one process's (the batch size must divide by N); gradients are averaged across processes (DDP)
    accelerator = Accelerator(split_batches=True, mixed_precision=mixed_precision)
    model, optimizer, batches = accelerator.prepare(model, optimizer, batches)
    per_epoch = len(batches)
    total = max(1, int(round(config.epochs * per_epoch)))
    if config.max_steps:
        total = min(total, config.max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_fraction * total), total)
    result = FinetuneResult()
    skip, resumed = 0, None
    if checkpoint is not None:
        resumed = load_checkpoint(checkpoint, total)
        if resumed is not None:
            accelerator.unwrap_model(model).load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            scheduler.load_state_dict(resumed["scheduler"])
            skip = result.steps = result.resumed_from = resumed["steps"]
            result.losses = list(resumed["losses"])
            if skip == 0:
                _restore_rng(resumed)
    model.train()
    bar = tqdm(total=total, initial=result.steps, desc=step_name,
               disable=not progress or not accelerator.is_main_process, leave=False)
    while result.steps < total:
        for batch in batches:
            if skip:  # resuming: the batches the checkpoint's steps used are drawn again and passed over
                skip -= 1
                if skip == 0:
                    _restore_rng(resumed)
                continue
            if on_step is not None:
                on_step(result.steps, total)
            loss = model(**batch).loss
            if regularizer is not None:
                loss = loss + regularizer()
            if not torch.isfinite(loss):
                raise NumericalError(f"NaN/inf loss in step '{step_name}' at iteration {result.steps}: "
                                     f"{first_non_finite(model)}")
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            result.losses.append(accelerator.reduce(loss.detach(), "mean").item())  # the global batch's loss
            bar.update(1)
            bar.set_postfix(loss=f"{result.final_loss:.4f}")
            if checkpoint is not None and (result.steps % (checkpoint.every or per_epoch) == 0
                                           or result.steps >= total):
                save_checkpoint(checkpoint, accelerator.unwrap_model(model), optimizer, scheduler, result.steps, total,
                                result.losses)
            if result.steps >= total:
                break
    bar.close()
    model.eval()
    check_finite_weights(model, step_name)
    accelerator.free_memory()
    return result


def _restore_rng(state: dict) -> None:
    set_rng_state(state["rng"])


def _finetune_lora(model: nn.Module, batches, config: FinetuneConfig, step_name: str, progress: bool,
                   mixed_precision: str) -> FinetuneResult:
    """``finetune`` with LoRA adapters (peft) on the linear layers, merged back into ``model``'s own weights."""
    try:
        from peft import LoraConfig, get_peft_model  # optional package: only a LoRA fine-tune needs it
    except ImportError:
        raise UserError("a LoRA fine-tune (lora: ...) needs the peft package: pip install peft") from None
    if any(isinstance(m, SVDLinear) for m in model.modules()):
        raise UserError(f"step '{step_name}': LoRA adapts dense linear layers; this model is decomposed (use lora "
                        "in pre_finetune, before SVD)")
    trainable = {n: p.requires_grad for n, p in model.named_parameters()}
    lc = config.lora
    peft_model = get_peft_model(model, LoraConfig(r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout,
                                                  target_modules=lc.target_modules or "all-linear"))
    plain = config.model_copy(update={"lora": None})
    result = finetune(peft_model, batches, plain, step_name, progress, mixed_precision=mixed_precision)
    peft_model.merge_and_unload()  # the adapters folded into the base weights, the wrappers removed from ``model``
    for n, p in model.named_parameters():
        p.requires_grad_(trainable.get(n, True))
    return result
