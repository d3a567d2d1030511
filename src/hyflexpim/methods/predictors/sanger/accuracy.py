"""The accuracy half of Sanger: Q and K quantized symmetrically per head to ``bits`` bits, their product the
estimate."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from hyflexpim.device.quant import fake_quant
from hyflexpim.sim.sparse_attention import Context, Predictor, ThresholdAttentionBase, exact_scores


class SangerAttentionConfig(ThresholdAttentionBase):
    """Low-bit Q·Kᵀ estimate (Sanger)."""

    config_name = "hardware.attention (sanger)"
    kind: Literal["sanger"] = "sanger"
    bits: int = Field(4, ge=1, le=16, description="bits of Q and K in the estimate (Sanger: 4)")

    def prediction(self) -> dict:
        return {"kind": "low_bit", "bits": self.bits}


def score(query: torch.Tensor, key: torch.Tensor, cfg: SangerAttentionConfig, ctx: Context) -> torch.Tensor:
    """Q·Kᵀ of the quantized Q and K, rescaled [B, Hq, Sq, Sk] (grouped key heads repeated)."""
    qi, sq = fake_quant(query.float(), cfg.bits, (-2, -1))
    ki, sk = fake_quant(key.float(), cfg.bits, (-2, -1))  # per key head: each repeated copy quantizes the same
    return exact_scores(qi, ki) * (sq * sk.repeat_interleave(query.shape[1] // key.shape[1], 1))


PREDICTOR = Predictor(score, logits=True)
