"""Metrics (accuracy for classification, perplexity for language modelling) and Monte Carlo over noise seeds."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import torch
from torch import nn

from hyflexpim.errors import NumericalError


@torch.inference_mode()
def accuracy(model: nn.Module, batches, progress: bool = False) -> float:
    from tqdm.auto import tqdm

    model.eval()
    correct = total = 0
    for batch in tqdm(batches, desc="evaluate", disable=not progress, leave=False):
        labels = batch["labels"]
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        if not torch.isfinite(logits).all():
            raise NumericalError("NaN/inf in model output in step 'evaluate'")
        correct += (logits.argmax(-1) == labels).sum().item()
        total += labels.numel()
    return correct / max(total, 1)


@torch.inference_mode()
def perplexity(model: nn.Module, batches, progress: bool = False) -> float:
    """exp(mean next-token NLL over all predicted tokens)."""
    from tqdm.auto import tqdm

    model.eval()
    nll = 0.0
    count = 0
    for batch in tqdm(batches, desc="evaluate", disable=not progress, leave=False):
        ids = batch["input_ids"]
        logits = model(input_ids=ids).logits[:, :-1].float()
        target = ids[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum")
        if not torch.isfinite(loss):
            raise NumericalError("NaN/inf loss in step 'evaluate'")
        nll += loss.item()
        count += target.numel()
    return math.exp(nll / max(count, 1))


METRICS = {"classification": ("accuracy", accuracy), "lm": ("perplexity", perplexity)}


def evaluate(model: nn.Module, batches, task: str = "classification", progress: bool = False) -> float:
    """The model-level verb: accuracy (classification) or perplexity (lm)."""
    return METRICS[task][1](model, batches, progress)


@dataclass
class MonteCarlo:
    metric: str
    values: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0


def evaluate_noisy(model: nn.Module, plan, hardware, batches, task: str = "classification",
                   seeds=(0, 1, 2), progress: bool = False) -> MonteCarlo:
    """Apply the plan once per noise seed and evaluate each PIM twin."""
    from hyflexpim.sim.apply import apply_plan

    mc = MonteCarlo(METRICS[task][0])
    for seed in seeds:
        twin = apply_plan(model, plan, hardware, seed=seed)
        mc.values.append(evaluate(twin, batches, task, progress))
        del twin
    return mc
