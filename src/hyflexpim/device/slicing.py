"""Bit slicing of INT8 codes into cells of 1 bit (SLC) or 2..4 bits (MLC), for three signed encodings.

Every encoding gives ``digits`` whose weighted sum reconstructs the code exactly:

    q = Σ_g sign_g Σ_j 2^(b·j) · digits[g, j] − offset

and ``levels``, the unsigned state 0..2^b−1 that each cell is programmed to. ``digits − levels``
is a fixed shift that the periphery applies exactly (zero except the negative top slice of two's
complement). Encodings are registered in ``hyflexpim.chip.encodings`` (their geometry is what the cost
side prices); the built-in slicers are here:

- ``twos_complement`` (the authors' notebook): one group; the top slice is a signed b-bit digit,
  so −1 is stored as −64 + 48 + 12 + 3 and every negative weight carries the noise of large slices.
- ``offset``: one group storing q + 128 unsigned; 128·Σx is subtracted digitally.
- ``differential``: two groups (positive and negative arrays) storing |q| in the group of its sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hyflexpim.chip.encodings import ENCODINGS as _REGISTRY
from hyflexpim.chip.encodings import get_encoding

WORD_BITS = 8


def __getattr__(name: str):
    if name == "ENCODINGS":  # the registered encodings' names, now (a plugin may have added one)
        return tuple(_REGISTRY.names())
    raise AttributeError(name)


@dataclass
class Cells:
    """The cells that store one set of integer weights (one SLC or MLC part of a matrix)."""

    digits: torch.Tensor  # [G, n_slices, *shape] float: digit values (may be negative)
    levels: torch.Tensor  # [G, n_slices, *shape] float: programmed level 0..2^b-1
    bits_per_cell: int
    group_sign: torch.Tensor  # [G]
    offset: int
    encoding: str

    @property
    def n_slices(self) -> int:
        return self.digits.shape[1]

    @property
    def place(self) -> torch.Tensor:
        return 2.0 ** (self.bits_per_cell * torch.arange(self.n_slices, dtype=self.digits.dtype))

    def reconstruct(self, digits: torch.Tensor | None = None) -> torch.Tensor:
        """Integer-valued (or, with noisy digits, real-valued) weights from digit values."""
        d = self.digits if digits is None else digits
        shape = (-1, self.n_slices) + (1,) * (d.dim() - 2)
        w = (d * self.place.reshape(shape[1:]).unsqueeze(0)).sum(1)
        w = (w * self.group_sign.to(d.dtype).reshape((-1,) + (1,) * (w.dim() - 1))).sum(0)
        return w - self.offset


def _layout(q: torch.Tensor, b: int):
    n = -(-WORD_BITS // b)  # ceil
    return q.to(torch.int64), n, (1 << b) - 1, (b * torch.arange(n)).reshape((n,) + (1,) * q.dim())


def _cells(lv, dg, b, sign, offset, encoding, dtype) -> Cells:
    return Cells(digits=dg.to(dtype), levels=lv.to(dtype), bits_per_cell=b, group_sign=torch.tensor(sign),
                 offset=offset, encoding=encoding)


def slice_twos_complement(q: torch.Tensor, b: int, dtype=torch.float32) -> Cells:
    q, n, mask, shifts = _layout(q, b)
    u = q & ((1 << (b * n)) - 1)  # two's complement word of b·n bits
    lv = (u.unsqueeze(0) >> shifts) & mask
    dg = lv.clone()
    top = dg[n - 1]
    dg[n - 1] = torch.where(top >= (1 << (b - 1)), top - (1 << b), top)
    return _cells(lv.unsqueeze(0), dg.unsqueeze(0), b, [1], 0, "twos_complement", dtype)


def slice_offset(q: torch.Tensor, b: int, dtype=torch.float32) -> Cells:
    q, _n, mask, shifts = _layout(q, b)
    lv = (((q + 128).unsqueeze(0) >> shifts) & mask).unsqueeze(0)
    return _cells(lv, lv, b, [1], 128, "offset", dtype)


def slice_differential(q: torch.Tensor, b: int, dtype=torch.float32) -> Cells:
    q, _n, mask, shifts = _layout(q, b)
    mag = q.abs()
    pos, neg = torch.where(q > 0, mag, 0), torch.where(q < 0, mag, 0)
    lv = torch.stack([(pos.unsqueeze(0) >> shifts) & mask, (neg.unsqueeze(0) >> shifts) & mask])
    return _cells(lv, lv, b, [1, -1], 0, "differential", dtype)


def slice_int8(q: torch.Tensor, bits_per_cell: int, encoding: str = "twos_complement",
               dtype: torch.dtype = torch.float32) -> Cells:
    """Cut integer codes in [-127, 127] into cells of ``bits_per_cell`` bits (1, 2 or 4 divide 8; 3 uses 3
    slices) with a registered encoding."""
    if not 1 <= bits_per_cell <= 4:
        raise ValueError(f"bits_per_cell must be in 1..4, got {bits_per_cell}")
    if encoding not in _REGISTRY:
        raise ValueError(f"encoding must be one of {', '.join(_REGISTRY.names())}; got {encoding!r}")
    return get_encoding(encoding).slice_fn()(q, bits_per_cell, dtype)
