"""Symmetric INT8 weight quantization, per tensor or per output channel (rows)."""

from __future__ import annotations

import torch

QMAX = 127  # symmetric range -127..127; two's complement's -128 is left unused


def int8_scale(w: torch.Tensor, per_channel: bool = False, clip: str = "max") -> torch.Tensor:
    """Scale such that w / scale fits in [-127, 127].

    clip="max" uses the largest magnitude; clip="second" uses the second-largest (the authors'
    notebook), which clips one outlier per tensor or row. Returns a tensor broadcastable to w.
    """
    a = w.detach().abs()
    a = a if per_channel else a.reshape(1, -1)
    if clip == "second" and a.shape[-1] > 1:
        m = a.topk(2, dim=-1).values[..., 1]
    elif clip in ("max", "second"):
        m = a.amax(dim=-1)
    else:
        raise ValueError(f"clip must be 'max' or 'second', got {clip!r}")
    scale = (m / QMAX).clamp_min(torch.finfo(w.dtype).tiny)
    return scale.reshape(-1, 1) if per_channel else scale.reshape(())


def quantize(w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Integer codes (as int32) of w at the given scale, rounded and clipped to ±127."""
    return torch.clamp(torch.round(w / scale), -QMAX, QMAX).to(torch.int32)


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.to(scale.dtype) * scale
