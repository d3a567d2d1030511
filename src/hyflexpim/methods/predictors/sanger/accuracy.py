"""The accuracy half of Sanger: Q and K quantized symmetrically per head to ``bits`` bits, their product the
estimate."""

from __future__ import annotations

import torch

from hyflexpim.device.quant import fake_quant
from hyflexpim.methods.predictors.sanger.config import SangerAttentionConfig
from hyflexpim.sim.sparse_attention import Context, Predictor, exact_scores


def score(query: torch.Tensor, key: torch.Tensor, cfg: SangerAttentionConfig, ctx: Context) -> torch.Tensor:
    """Q·Kᵀ of the quantized Q and K, rescaled [B, Hq, Sq, Sk] (grouped key heads repeated)."""
    qi, sq = fake_quant(query.float(), cfg.bits, (-2, -1))
    ki, sk = fake_quant(key.float(), cfg.bits, (-2, -1))  # per key head: each repeated copy quantizes the same
    return exact_scores(qi, ki) * (sq * sk.repeat_interleave(query.shape[1] // key.shape[1], 1))


PREDICTOR = Predictor(score, logits=True)
