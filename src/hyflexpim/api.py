"""The Python API: the algorithm's steps as plain verbs on a model (peft/torchao style).

    model, tok = load_model("minilm")
    decompose(model)                                 # SVDLinear in place, rank per matrix
    redistribute(model, batches)                     # fine-tune: gradient redistribution
    imp = score_importance(model, "grad_abs", batches)
    plan = make_plan(model, imp, slc_rate=10)        # JSON-able, carries a model fingerprint
    twin = apply_plan(model, plan, HardwareConfig(), seed=0)
    evaluate(twin, test_batches)
"""

import torch

from hyflexpim.algo.decompose import DecomposeConfig, decompose
from hyflexpim.algo.finetune import FinetuneConfig
from hyflexpim.algo.finetune import finetune as redistribute
from hyflexpim.algo.importance import score_importance
from hyflexpim.algo.plan_policy import make_plan
from hyflexpim.analysis import AttentionReport, analyze_attention
from hyflexpim.data import ClassificationData, classification_batches, lm_blocks, load_task
from hyflexpim.models.layers import SVDLinear
from hyflexpim.models.load import load_model
from hyflexpim.plan import Plan, load_plan
from hyflexpim.report.attention_tables import write_attention
from hyflexpim.sim.apply import apply_plan
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.evaluate import evaluate, evaluate_noisy
from hyflexpim.sweep import SweepConfig, run_sweep


def batches(data, tokenizer, split: str = "train", **kw):
    """Tokenised batches of one split of a task (classification or language modelling)."""
    if isinstance(data, ClassificationData):
        texts, labels = data.split(split)
        return classification_batches(texts, labels, tokenizer, shuffle=(split == "train"), **kw)

    blocks = lm_blocks(data.split(split), tokenizer, kw.pop("block_size", 128), kw.pop("max_tokens", None))
    return [{"input_ids": b, "labels": b} for b in torch.split(blocks, kw.pop("batch_size", 8))]


__all__ = [
    "AttentionReport",
    "DecomposeConfig",
    "FinetuneConfig",
    "HardwareConfig",
    "Plan",
    "SVDLinear",
    "SweepConfig",
    "analyze_attention",
    "apply_plan",
    "batches",
    "decompose",
    "evaluate",
    "evaluate_noisy",
    "load_model",
    "load_plan",
    "load_task",
    "make_plan",
    "redistribute",
    "run_sweep",
    "score_importance",
    "write_attention",
]
