"""Checks before any model is loaded or trained: what can be refused from the configuration and the model's own
config file is refused here, in one line, instead of after minutes of fine-tuning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

from hyflexpim.algo.decompose import placement
from hyflexpim.algo.rank import RANK_POLICIES
from hyflexpim.errors import UserError
from hyflexpim.models.discover import find_matrices
from hyflexpim.models.load import is_part, resolve
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.task import is_jets_task


def preflight(config: RunConfig, kind: str, say: Callable[[str], None] = print) -> None:
    if config.precision != "fp32" and not torch.cuda.is_available():
        raise UserError(f"precision: {config.precision} is mixed-precision fine-tuning on a GPU and this machine "
                        "has none; on a CPU only fp32 runs (--set precision=fp32)")
    if is_part(config.model) != is_jets_task(config.task):
        raise UserError(f"model {config.model!r} and task {config.task!r} do not fit: jets go with a ParT model "
                        "(--model part or a .pt checkpoint), ParT with a jets task (--task jets, a jets .npz/folder "
                        "or JetClass .root files)")
    off_curve(config, say)
    if is_part(config.model):
        return  # ParT has no Hugging Face config to read; its own loading checks the classes
    check_attention(config)
    check_lengths(config, kind, say)
    check_ranks(config, kind)


def off_curve(config: RunConfig, say: Callable[[str], None] = print) -> None:
    """A note for an ablation asked at a rate the main curve does not measure: it has no like-for-like point."""
    run_rates = config.plan.slc_rates
    for field in ("singular_value_rates", "random_rates", "magnitude_rates", "policy_rates"):
        missing = [r for r in config.compare.rates(field, run_rates) if r not in run_rates]
        asked = {"policy_rates": bool(config.compare.policies), "magnitude_rates": config.compare.magnitude}
        if missing and asked.get(field, True):
            say(f"note: compare.{field} {', '.join(f'{r:g}' for r in missing)} % are not among the run's SLC rates "
                f"({', '.join(f'{r:g}' for r in run_rates)}): those points have no gradient point to compare with")


def check_attention(config: RunConfig) -> None:
    """Refuse, before any training, PQ sub-spaces that do not divide the model's head size."""
    m = getattr(config.hardware.attention, "subspaces", None)
    if m is None:
        return
    try:
        cfg = AutoConfig.from_pretrained(resolve(config.model)[1])
    except (OSError, ValueError):
        return  # the model's own loading reports it
    head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    if head % m:
        raise UserError(f"hardware.attention.subspaces: {m} must divide the head size {head} of {config.model}")


def check_lengths(config: RunConfig, kind: str, say: Callable[[str], None] = print) -> None:
    """Refuse, before any training, examples longer than the model's position table; say that a model folder's own
    code (``auto_map``) is not run."""
    path = resolve(config.model)[1]
    if not Path(path).exists():
        return  # a hub id: its own loading reports it (and the check would reach for the network twice)
    try:
        cfg = AutoConfig.from_pretrained(path)
    except (OSError, ValueError):
        return  # the model's own loading reports it
    custom = getattr(cfg, "auto_map", None)
    if custom:
        say(f"note: {config.model} asks for its own code (auto_map: {', '.join(sorted(custom))}); hyflexpim never runs "
            f"code from a model folder: it loads transformers' own '{cfg.model_type}' classes instead")
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    field, n = ("data.max_length", config.data.max_length) if kind == "classification" else \
        ("data.block_size", config.data.block_size)
    if limit and n > limit:
        raise UserError(f"{field}: {n} tokens is more than {config.model} has positions for ({limit})")


def check_ranks(config: RunConfig, kind: str) -> None:
    """Refuse, before any training, a fixed rank above a decomposed matrix's rank: the model's matrices are listed
    from its configuration on the meta device (no weights loaded)."""
    d = config.decompose
    if not RANK_POLICIES.get(d.rank_policy).checks_value or d.rank_value is None:  # rank_value is a rank (fixed)
        return
    path = resolve(config.model)[1]
    if not Path(path).exists():
        return
    try:
        cfg = AutoConfig.from_pretrained(path)
        with torch.device("meta"):
            auto = AutoModelForSequenceClassification if kind == "classification" else AutoModelForCausalLM
            skeleton = auto.from_config(cfg)
    except (OSError, ValueError, TypeError, RuntimeError):
        return  # the model's own loading reports it
    for info in find_matrices(skeleton):
        if placement(info, d)[0] and d.rank_value > min(info.shape):
            raise UserError(f"decompose.rank_value: {d.rank_value:g} is above the rank of {info.name} "
                            f"{list(info.shape)}: a fixed rank must be in 1..{min(info.shape)}")
