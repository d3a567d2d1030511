"""Metrics (accuracy for classification, perplexity for language modelling) and Monte Carlo over noise seeds."""

from __future__ import annotations

import base64
import math
import statistics
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hyflexpim.errors import NumericalError
from hyflexpim.sim.apply import apply_plan


@torch.inference_mode()
def per_example(model: nn.Module, batches, task: str = "classification", progress: bool = False) -> dict:
    """Each test example's outcome: ``correct`` (bool per example) for classification, ``nll`` and ``tokens`` (summed
    next-token NLL and predicted tokens per sequence) for language modelling. The metric is ``summary`` of it; the
    outcomes let ``report.confidence`` bootstrap over test examples."""
    model.eval()
    parts: dict[str, list] = {}
    for batch in tqdm(batches, desc="evaluate", disable=not progress, leave=False):
        if task == "classification":
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            if not torch.isfinite(logits).all():
                raise NumericalError("NaN/inf in model output in step 'evaluate'")
            parts.setdefault("correct", []).append(logits.argmax(-1) == batch["labels"])
        else:
            ids = batch["input_ids"]
            logits = model(input_ids=ids).logits[:, :-1].float()
            target = ids[:, 1:]
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none").sum(1)
            if not torch.isfinite(loss).all():
                raise NumericalError("NaN/inf loss in step 'evaluate'")
            parts.setdefault("nll", []).append(loss.double())
            parts.setdefault("tokens", []).append(torch.full_like(loss, target.shape[1], dtype=torch.float64))
    return {k: torch.cat(v) for k, v in parts.items()}


def summary(outcome: dict) -> float:
    """Accuracy (share correct) or perplexity (exp of the mean NLL per token) of ``per_example``'s outcome."""
    if "correct" in outcome:
        c = outcome["correct"]
        return c.float().mean().item() if c.numel() else 0.0
    return math.exp(outcome["nll"].sum().item() / max(outcome["tokens"].sum().item(), 1))


def record_fields(outcome: dict) -> dict:
    """The outcome as JSON fields of an evaluation record (``report.confidence`` reads them back)."""
    if "correct" in outcome:  # one bit per example, base64 (640 examples: 108 characters)
        bits = np.packbits(outcome["correct"].numpy().astype(bool))
        return {"correct": base64.b64encode(bits.tobytes()).decode(), "n_examples": int(outcome["correct"].numel())}
    return {"nll": [round(v, 4) for v in outcome["nll"].tolist()],
            "tokens": [int(t) for t in outcome["tokens"].tolist()]}


def accuracy(model: nn.Module, batches, progress: bool = False) -> float:
    return summary(per_example(model, batches, "classification", progress))


def perplexity(model: nn.Module, batches, progress: bool = False) -> float:
    """exp(mean next-token NLL over all predicted tokens)."""
    return summary(per_example(model, batches, "lm", progress))


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
    mc = MonteCarlo(METRICS[task][0])
    for seed in seeds:
        twin = apply_plan(model, plan, hardware, seed=seed)
        mc.values.append(evaluate(twin, batches, task, progress))
        del twin
    return mc
