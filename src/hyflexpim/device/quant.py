"""The one symmetric quantizer: INT8 weights (per tensor or per output channel), and b-bit
activations, attention operands and probabilities (per row, head or tensor) alike.

Scale s = max|t| over the reduced dimensions / (2^(b−1) − 1); codes round(t / s) clipped to ±(2^(b−1) − 1)
(the symmetric range: two's complement's −2^(b−1) is left unused). One bit has no symmetric range (2^0 − 1 = 0):
it is the sign, codes ±1 at scale mean|t| (XNOR-Net's binarization, Rastegari et al., ECCV 2016).
"""

from __future__ import annotations

import torch

QMAX = 127  # INT8: symmetric range -127..127


def qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def symmetric_scale(t: torch.Tensor, bits: int = 8, dims: tuple[int, ...] | None = None,
                    clip: str = "max") -> torch.Tensor:
    """max|t| over ``dims`` (all when None, keepdim) / qmax(bits); ``clip="second"`` uses the
    second-largest |t| along the last dimension (the authors' notebook: one outlier clipped)."""
    a = t.detach().abs()
    if clip == "second":
        flat = a.reshape(1, -1) if dims is None else a
        m = flat.topk(2, dim=-1).values[..., 1:2] if flat.shape[-1] > 1 else flat.amax(-1, keepdim=True)
        m = m.reshape(()) if dims is None else m
    elif clip == "max":
        m = a.amax() if dims is None else a.amax(dim=dims, keepdim=True)
    else:
        raise ValueError(f"clip must be 'max' or 'second', got {clip!r}")
    return (m / qmax(bits)).clamp_min(torch.finfo(t.dtype).tiny)


def round_clip(t: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """round(t / scale) clipped to ±qmax(bits), in t's dtype (integer-valued)."""
    q = float(qmax(bits))
    return torch.clamp(torch.round(t / scale), -q, q)


def fake_quant(t: torch.Tensor, bits: int, dims: tuple[int, ...] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer-valued tensor and its scale for a dynamic symmetric quantization over ``dims`` (1 bit: the sign)."""
    if bits == 1:
        s = t.detach().abs().mean() if dims is None else t.detach().abs().mean(dim=dims, keepdim=True)
        return torch.where(t >= 0, 1.0, -1.0).to(t.dtype), s.clamp_min(torch.finfo(t.dtype).tiny)
    s = symmetric_scale(t, bits, dims)
    return round_clip(t, s, bits), s


def int8_scale(w: torch.Tensor, per_channel: bool = False, clip: str = "max") -> torch.Tensor:
    """Scale such that w / scale fits in [-127, 127]: a scalar, or [d_out, 1] per output channel."""
    s = symmetric_scale(w, 8, (-1,) if per_channel else None, clip)
    return s.reshape(-1, 1) if per_channel else s.reshape(())


def quantize(w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """INT8 codes (as int32) of w at the given scale, rounded and clipped to ±127."""
    return round_clip(w, scale, 8).to(torch.int32)


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.to(scale.dtype) * scale
