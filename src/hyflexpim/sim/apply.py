"""apply_plan(model, plan, hardware, seed): the model's PIM twin, as the plan places it in cells."""

from __future__ import annotations

import copy

import torch
from torch import nn

from hyflexpim.device.noise import build_noise_model
from hyflexpim.errors import UserError
from hyflexpim.models.discover import fingerprint, is_matrix
from hyflexpim.models.layers import SVDLinear, dense_weight, replace_module
from hyflexpim.plan import Plan
from hyflexpim.sim.attention import ATTENTION_KINDS
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.pim_linear import PIMLinear
from hyflexpim.sim.program import program_matrix


def build_noise(hardware: HardwareConfig):
    return build_noise_model(hardware.noise)


def _check_shape(module: nn.Module, entry) -> None:
    """A plan entry's shape must be the module's (a hand-edited plan can keep the fingerprint and change a shape)."""
    shape = getattr(entry, "shape", None)
    if shape is None:
        return
    have = tuple(module.hyflexpim_shape) if isinstance(module, SVDLinear) else tuple(dense_weight(module).shape)
    if tuple(shape) != have:
        raise UserError(f"plan places {entry.name} as {list(shape)} but the model's matrix is {list(have)}: the plan "
                        "was made for another model")


def _stages(module: nn.Module, entry, noise, hw: HardwareConfig, seed: int):
    _check_shape(module, entry)
    kw = dict(noise=noise, seed=seed, per_channel=hw.per_channel, clip=hw.clip, encoding=hw.encoding,
              mlc_bits=hw.mlc_bits, t_seconds=hw.t_seconds)
    if entry.unit == "component":
        if not isinstance(module, SVDLinear) or module.rank != entry.rank:
            raise UserError(f"plan places components of {entry.name} (rank {entry.rank}) but the model's matrix is "
                            f"{'not decomposed' if not isinstance(module, SVDLinear) else f'rank {module.rank}'}")
        svh = module.S.detach()[:, None] * module.Vh.detach()  # ΣVᵀ: component i is row i
        first = program_matrix(svh, entry.slc, 0, name=entry.name + ":SVh", **kw)
        second = program_matrix(module.U.detach(), entry.slc, 1, name=entry.name + ":U", **kw)
        return [first, second], module.bias
    if not is_matrix(module):
        raise UserError(f"plan places rows of {entry.name} but the model's matrix is decomposed; "
                        "use the original model")
    return [program_matrix(dense_weight(module), entry.slc, 0, name=entry.name, **kw)], getattr(module, "bias", None)


def apply_plan(model: nn.Module, plan: Plan, hardware: HardwareConfig | None = None, seed: int = 0,
               inplace: bool = False) -> nn.Module:
    """Replace every analog matrix of ``model`` by its PIM twin (a copy unless ``inplace``), and switch
    its attention to the hardware's attention kind."""
    hardware = (hardware or HardwareConfig()).resolved()
    plan.check_model(fingerprint(model))
    noise = build_noise(hardware)
    circuit = hardware.circuit if hardware.mode == "circuit" else None
    dynamic = noise.has_read_noise or circuit is not None
    target = model if inplace else copy.deepcopy(model)
    with torch.no_grad():
        for entry in plan.analog:
            module = target.get_submodule(entry.name)
            stages, bias = _stages(module, entry, noise, hardware, seed)
            replace_module(target, entry.name, PIMLinear(stages, bias, entry.shape, noise, dynamic, circuit, seed,
                                                         entry.name))
    enable = ATTENTION_KINDS.get(hardware.attention.kind).enable
    if enable is not None:
        enable(target, hardware.attention)
    target.eval()
    return target
