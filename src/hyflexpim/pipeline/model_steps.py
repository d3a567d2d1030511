"""The model steps (``pipeline.steps``: pre-finetune, decompose, redistribute): the FP32 model fitted to the task,
its SVD, and the SVD model fine-tuned (the paper's gradient redistribution). Each reuses its cached model
(``models/<stage>.safetensors``) while its derived key is unchanged and keeps the model in the run's cache.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_model
from torch import nn

from hyflexpim.algo.concentrate import concentration_penalty
from hyflexpim.algo.decompose import calibration
from hyflexpim.algo.decompose_checkpoint import decompose_checkpoint
from hyflexpim.algo.factorize import FACTORIZATIONS
from hyflexpim.algo.finetune import FinetuneResult, check_finite_weights, finetune
from hyflexpim.algo.soft_rank import SoftRank, enable_soft_rank, truncate_to
from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json
from hyflexpim.errors import UserError
from hyflexpim.models.discover import find_matrices, fingerprint
from hyflexpim.models.layers import SVDLinear
from hyflexpim.models.load import load_model
from hyflexpim.pipeline.jets_train import packaged_part
from hyflexpim.sim.noise_aware import noise_aware

if TYPE_CHECKING:
    from hyflexpim.pipeline.run import Run


def base(run: Run) -> nn.Module:
    """The pretrained model with the task's head, as loaded (before any step)."""
    torch.manual_seed(run.config.seed)  # a fresh head's initialisation and dropout: the run's seed
    if run.config.model.lower() == "part":
        packaged_part(run.progress, run.say)  # trained once on the shipped sample, then cached
    model: nn.Module
    model, _ = load_model(run.config.model, run.task.kind, max(run.task.num_labels, 2))
    check_finite_weights(model, "load")
    return model


def finetuned(run: Run) -> nn.Module:
    """The FP32 model fitted to the task (or the pretrained one when pre_finetune is null)."""
    run.check_keys()
    if "fp32" in run.models:
        return run.models["fp32"]
    model = base(run)
    cfg = run.config.pre_finetune
    if cfg is not None and run.ws.load_into(model, "finetuned"):
        run.say("reused models/finetuned.safetensors")
    elif cfg is not None:
        run.allowed("pre-finetune", "models/finetuned.safetensors")
        batches = run.task.batches("train", shuffle=True, seed=run.config.seed)
        res = run.timed("fine-tuned FP32 model",
                        lambda: finetune(model, batches, cfg, "finetune", run.progress,
                                         mixed_precision=run.mixed_precision))
        run.ws.save_model(model, "finetuned")
        run.say(f"  final training loss {res.final_loss:.4f} after {res.steps} steps")
    model.eval()
    run.remember("finetuned")
    if run.is_main:  # lets a foreign plan be refused early
        write_atomic(run.files.fingerprint, fingerprint(model))
    run.models["fp32"] = model
    return model


def decomposed(run: Run) -> nn.Module:
    """SVD of the FP32 model, before any fine-tuning (the 'no redistribution' variant): matrix by matrix from the
    FP32 model's checkpoint (``algo.decompose_checkpoint``), so the step's peak is the decomposed model plus
    one matrix's SVD, not a second copy of the model."""
    if "svd" not in run.models:
        fp32 = finetuned(run)
        d = run.config.decompose
        stats = None
        if FACTORIZATIONS.get(d.method).needs:
            batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 4)
            stats = run.timed(f"calibration for decomposition method '{d.method}' "
                              f"({d.calibration_batches} batches)",
                              lambda: calibration(fp32, d, batches, run.progress))
        with _fp32_checkpoint(run, fp32) as checkpoint:
            model, places = decompose_checkpoint(lambda: type(fp32)(fp32.config), checkpoint, d, stats=stats)
        _same_extras(fp32, model)
        digital = [p for p in places if not p.analog]
        n = sum(p.analog for p in places)
        run.say(f"decomposed {n} matrices; {len(digital)} stay digital: "
                + "; ".join(f"{p.info.name} ({p.reason})" for p in digital[:4])
                + (f"; … {len(digital) - 4} more" if len(digital) > 4 else ""))
        run.ws.save_model(model, "decomposed")
        run.remember("decomposed")
        run.models["svd"] = model
    return run.models["svd"]


@contextmanager
def _fp32_checkpoint(run: Run, fp32: nn.Module) -> Iterator[str | Path]:
    """The FP32 model's weights as a safetensors file: the pre-fine-tune's own file where this process wrote
    it, else a temporary copy (a pretrained model with a fresh head, or a follower process)."""
    own = run.files.model("finetuned")
    if run.config.pre_finetune is not None and run.is_main and own.exists():
        yield own
        return
    with tempfile.TemporaryDirectory(prefix="hyflexpim-fp32-") as tmp:
        path = f"{tmp}/fp32.safetensors"
        save_model(fp32, path)
        yield path


def redistributed(run: Run) -> nn.Module:
    """The SVD model fine-tuned: the paper's gradient redistribution."""
    if "redistributed" not in run.models:
        model = copy.deepcopy(decomposed(run))
        learned = run.config.decompose.rank_policy == "learned"
        ranks_file = run.files.learned_ranks
        if learned and ranks_file.exists() and run.ws.has_model("redistributed"):
            truncate_to(model, load_json(ranks_file, "learned ranks")["ranks"])  # the saved model's shapes
        if run.ws.load_into(model, "redistributed"):
            run.say("reused models/redistributed.safetensors")
        else:
            run.allowed("redistribute", "models/redistributed.safetensors")
            batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 1)
            torch.manual_seed(run.config.seed + 1)  # dropout during redistribution
            soft, extra = _soft_rank(run, model) if learned else (None, {})
            res = run.timed("gradient redistribution (fine-tuned the SVD model)"
                            + (" with the hardware's noise" if run.config.noise_aware.enabled else "")
                            + (" and the concentration penalty" if run.config.concentration.strength else ""),
                            lambda: _fine_tune(run, model, batches, extra))
            if learned:
                _harden(run, model, soft, ranks_file)
            run.ws.save_model(model, "redistributed")
            run.say(f"  final training loss {res.final_loss:.4f} after {res.steps} steps")
        model.eval()
        run.remember("redistributed")
        run.models["redistributed"] = model
    return run.models["redistributed"]


def _fine_tune(run: Run, model: nn.Module, batches: Any, extra: dict[str, Any]) -> FinetuneResult:
    """The redistribution fine-tune; with ``noise_aware.enabled`` its forward sees the hardware's noise."""
    cc = run.config.concentration
    conc = concentration_penalty(model, cc)
    if conc is not None:
        inner_reg = extra.get("regularizer")
        extra = extra | {"regularizer": conc if inner_reg is None else (lambda: inner_reg() + conc())}
        if cc.sigma_lr_scale != 1:
            if "extra" in extra:
                raise UserError("concentration.sigma_lr_scale other than 1 cannot be combined with "
                                "decompose.rank_policy=learned yet (both train their own parameter group)")
            sigmas = [m.S for m in model.modules() if isinstance(m, SVDLinear)]
            extra = extra | {"extra": (sigmas, cc.sigma_lr_scale)}
    na = run.config.noise_aware
    with (noise_aware(model, run.config.hardware, na, run.config.seed) if na.enabled else nullcontext()) as h:
        if h is not None:
            inner = extra.get("on_step")
            extra = extra | {"on_step": lambda step, total: (h.step(step, total),
                                                               inner and inner(step, total))}
        return finetune(model, batches, run.config.redistribute, "redistribute", run.progress, **extra,
                        mixed_precision=run.mixed_precision)


def _soft_rank(run: Run, model: nn.Module) -> tuple[SoftRank, dict[str, Any]]:
    """Rank policy 'learned': soft thresholds on every decomposed matrix, and what the fine-tune needs."""
    d = run.config.decompose
    assert d.budget is not None  # DecomposeConfig: a rank policy that uses a budget has one
    roles = {m.name: m.role for m in find_matrices(model)}
    soft = enable_soft_rank(model, d.soft_rank, d.budget, roles)
    return soft, {"regularizer": soft.penalty, "on_step": soft.anneal,
                  "extra": (soft.parameters(), d.soft_rank.lr_scale)}


def _harden(run: Run, model: nn.Module, soft: Any, ranks_file: Path) -> None:
    assert run.config.decompose.budget is not None  # DecomposeConfig: a rank policy that uses a budget has one
    ranks = soft.finish(model)
    achieved = sum(r * sum(soft.layers[n].hyflexpim_shape) for n, r in ranks.items()) / soft.dense
    if run.is_main:
        write_atomic(ranks_file, json.dumps({"budget": run.config.decompose.budget, "achieved": achieved,
                                             "ranks": ranks}, indent=1))
    run.say(f"learned ranks: {achieved:.1%} of the decomposed matrices' parameters kept "
            f"(budget {run.config.decompose.budget:.0%}); ranks {min(ranks.values())}..{max(ranks.values())}")
    if abs(achieved - run.config.decompose.budget) > 0.02 * run.config.decompose.budget:
        run.say(f"warning: the learned ranks missed the budget by more than 2 % ({achieved:.1%} kept); a larger "
                "decompose.soft_rank.penalty or more fine-tuning steps move it closer")


STEP_OF_VARIANT: dict[str, Callable[[Run], nn.Module]] = {
    "fp32": finetuned, "original": finetuned, "svd": decomposed, "redistributed": redistributed}


def model_of(run: Run, variant: str) -> nn.Module:
    """The model ``variant`` ("fp32"/"original", "svd", "redistributed"): its step's output."""
    return STEP_OF_VARIANT[variant](run)


def _same_extras(fp32: nn.Module, model: nn.Module) -> None:
    """What a model built from its checkpoint lacks against the loaded one: the buffers no checkpoint holds
    (non-persistent ones, e.g. position ids) and the name hyflexpim gave it."""
    own = dict(model.named_buffers())
    with torch.no_grad():
        for name, buf in fp32.named_buffers():
            if name in own and own[name].shape == buf.shape:
                own[name].copy_(buf)
    if hasattr(fp32, "hyflexpim_name"):
        model.hyflexpim_name = fp32.hyflexpim_name
