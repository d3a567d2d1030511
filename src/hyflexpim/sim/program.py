"""Program one matrix into cells as a plan says: INT8 codes, SLC units in 1-bit cells, MLC units in
b-bit cells, each part through the noise model once (and drift, if asked)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from hyflexpim.device.noise import NoiseModel
from hyflexpim.device.quant import int8_scale, quantize
from hyflexpim.device.slicing import Cells, slice_int8


@dataclass
class Part:
    """The SLC or the MLC units of one matrix: ``index`` along ``axis`` and their cells."""

    index: torch.Tensor
    cells: Cells
    values: torch.Tensor  # digit values as programmed (after drift)


@dataclass
class ProgrammedMatrix:
    shape: tuple[int, int]
    axis: int  # 0: units are rows (outputs); 1: units are columns (inputs)
    scale: torch.Tensor  # INT8 scale, scalar or [d_out, 1]
    parts: list[Part]

    def codes(self, values: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The (noisy, real-valued) integer-domain weights."""
        q = torch.zeros(self.shape, dtype=self.scale.dtype)
        for j, part in enumerate(self.parts):
            v = part.values if values is None else values[j]
            q.index_copy_(self.axis, part.index, part.cells.reconstruct(v))
        return q

    def weight(self, values: list[torch.Tensor] | None = None) -> torch.Tensor:
        return self.codes(values) * self.scale


def generator_for(seed: int, *names: str) -> torch.Generator:
    """A generator per (seed, matrix, part): results do not depend on the order matrices are visited."""
    return torch.Generator().manual_seed(zlib.crc32(":".join((str(seed), *names)).encode()))


def program_matrix(w: torch.Tensor, slc: list[int], axis: int, noise: NoiseModel, seed: int, name: str,
                   per_channel: bool = False, clip: str = "max", encoding: str = "twos_complement",
                   mlc_bits: int = 2, t_seconds: float | None = None) -> ProgrammedMatrix:
    w = w.detach().float()
    scale = int8_scale(w, per_channel=per_channel, clip=clip)
    q = quantize(w, scale)
    n = w.shape[axis]
    is_slc = torch.zeros(n, dtype=torch.bool)
    if slc:
        is_slc[torch.tensor(slc, dtype=torch.long)] = True
    parts = []
    for label, mask, bits in (("slc", is_slc, 1), ("mlc", ~is_slc, mlc_bits)):
        index = mask.nonzero().flatten()
        if index.numel() == 0:
            continue
        cells = slice_int8(q.index_select(axis, index), bits, encoding)
        gen = generator_for(seed, name, label)
        values = noise.program(cells, gen)
        if t_seconds is not None:
            values = noise.drift(values, cells, t_seconds, gen)
        parts.append(Part(index, cells, values))
    return ProgrammedMatrix(tuple(w.shape), axis, scale, parts)
