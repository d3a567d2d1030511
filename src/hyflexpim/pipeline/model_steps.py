"""The model steps (``pipeline.steps``: pre-finetune, decompose, redistribute): the FP32 model fitted to the task,
its SVD, and the SVD model fine-tuned (the paper's gradient redistribution). Each reuses its cached model
(``models/<stage>.safetensors``) while its derived key is unchanged and keeps the model in the run's cache.
"""

from __future__ import annotations

import copy
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
from hyflexpim.algo.rank import rank_hooks
from hyflexpim.atomic import write_atomic
from hyflexpim.errors import UserError
from hyflexpim.models.discover import fingerprint
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
        hooks = rank_hooks(run.config.decompose.rank_policy)  # the rank policy's (a static one's do nothing)
        if run.ws.has_model("redistributed"):
            hooks.restore(model, run.files)  # the saved model's shapes
        if run.ws.load_into(model, "redistributed"):
            run.say("reused models/redistributed.safetensors")
        else:
            run.allowed("redistribute", "models/redistributed.safetensors")
            batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 1)
            torch.manual_seed(run.config.seed + 1)  # dropout during redistribution
            state, extra = hooks.before_redistribution(model, run.config.decompose)
            res = run.timed("gradient redistribution (fine-tuned the SVD model)"
                            + (" with the hardware's noise" if run.config.noise_aware.enabled else "")
                            + (" and the concentration penalty" if run.config.concentration.strength else ""),
                            lambda: _fine_tune(run, model, batches, extra))
            hooks.after_redistribution(model, state, run.config.decompose, run.files, run.say, run.is_main)
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
