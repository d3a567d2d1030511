"""apply_plan(model, plan, hardware, seed): the model's PIM twin, as the plan places it in cells."""

from __future__ import annotations

import copy

import torch
from pydantic import ValidationError
from torch import nn

import hyflexpim.device  # noqa: F401  (registers the device-level noise models)
from hyflexpim.algo.svd_linear import SVDLinear
from hyflexpim.device.noise import NOISE_MODELS, make_noise_model
from hyflexpim.config import format_validation_error
from hyflexpim.errors import UserError
from hyflexpim.models.discover import fingerprint, is_matrix
from hyflexpim.plan import Plan
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.pim_linear import PIMLinear
from hyflexpim.sim.program import program_matrix


def build_noise(hardware: HardwareConfig):
    params = dict(hardware.noise)
    kind = params.pop("kind", "paper")
    config_cls = NOISE_MODELS.get(kind, (None,))[0]
    if config_cls is not None and "mlc_bits_per_cell" in config_cls.model_fields:
        params.setdefault("mlc_bits_per_cell", hardware.mlc_bits)  # never reuse a 2-bit error rate for 3-bit cells
    try:
        return make_noise_model(kind, **params)
    except ValidationError as e:
        raise UserError(format_validation_error(e, f"hardware.noise ({kind})")) from None
    except ValueError as e:  # unknown kind
        raise UserError(f"hardware.noise: {e}") from None


def _stages(module: nn.Module, entry, noise, hw: HardwareConfig, seed: int):
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
        raise UserError(f"plan places rows of {entry.name} but the model's matrix is decomposed; use the original model")
    w = module.weight.detach()
    w = w if isinstance(module, nn.Linear) else w.t()
    return [program_matrix(w, entry.slc, 0, name=entry.name, **kw)], getattr(module, "bias", None)


def apply_plan(model: nn.Module, plan: Plan, hardware: HardwareConfig | None = None, seed: int = 0,
               inplace: bool = False) -> nn.Module:
    """Replace every analog matrix of ``model`` by its PIM twin (a copy unless ``inplace``)."""
    hardware = hardware or HardwareConfig()
    plan.check_model(fingerprint(model))
    noise = build_noise(hardware)
    circuit = None
    if hardware.mode == "circuit":
        from hyflexpim.sim.analog_mvm import CircuitConfig

        circuit = CircuitConfig(**hardware.circuit)
    dynamic = noise.has_read_noise or circuit is not None
    target = model if inplace else copy.deepcopy(model)
    with torch.no_grad():
        for entry in plan.analog:
            module = target.get_submodule(entry.name)
            stages, bias = _stages(module, entry, noise, hardware, seed)
            pim = PIMLinear(stages, bias, entry.shape, noise, dynamic, circuit, seed, entry.name)
            parent, _, child = entry.name.rpartition(".")
            setattr(target.get_submodule(parent) if parent else target, child, pim)
    if hardware.digital_attention is not None:
        from hyflexpim.sim.digital_attention import enable_digital_attention

        enable_digital_attention(target, hardware.digital_attention)
    target.eval()
    return target
