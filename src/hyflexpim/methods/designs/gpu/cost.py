"""A GPU's cost model: its kernels, launch by launch (hyflexpim.hw.gpu); every matrix runs."""

from __future__ import annotations

from hyflexpim.chip.spec import GpuSpec
from hyflexpim.hw.designs import FILL_BASELINE, attention_keep, batch_size
from hyflexpim.hw.gpu import gpu_costs
from hyflexpim.hw.results import HwResult
from hyflexpim.plan import Architecture, Plan


def price(plan: Plan, arch: Architecture, spec: GpuSpec, seq: list[int], batch: int | str,
          gen_tokens: int) -> HwResult:
    mats = [(m.role, m.shape[0], m.shape[1], m.layer) for m in plan.matrices]  # every matrix runs
    b = batch_size(batch, arch.layers)
    out = gpu_costs(spec, arch, mats, seq, b, gen_tokens, attention_keep=attention_keep(plan))
    return out.with_info(batch_label=FILL_BASELINE if batch == "fill" else f"{b}")
