"""An attention-only design's cost model (hyflexpim.hw.attention_only): the self-attention alone."""

from __future__ import annotations

from hyflexpim.chip.spec import AttentionSpec
from hyflexpim.hw.attention_only import attention_costs
from hyflexpim.hw.designs import attention_keep, batch_size
from hyflexpim.hw.results import HwResult
from hyflexpim.plan import Architecture, Plan


def price(plan: Plan, arch: Architecture, spec: AttentionSpec, seq: list[int], batch: int | str,
          gen_tokens: int) -> HwResult:
    b = batch_size(batch, 1)
    return attention_costs(spec, arch, seq, b, gen_tokens, attention_keep(plan)).with_info(batch_label=f"{b}")
