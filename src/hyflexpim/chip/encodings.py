"""Signed-weight encodings: how an INT8 code becomes cells, as both sides of the toolkit need it.

An encoding has a torch-free *geometry* (the cost side: how many column groups a weight takes, how
many reference weights a block adds) and a *slicer* (the accuracy side: codes -> cells, with torch).
Built-ins (slicers in ``hyflexpim.device.slicing``):

- ``twos_complement`` (the authors'): one column group; the top slice is a signed digit.
- ``offset``: one group storing q + 128 unsigned; a reference column set per block subtracts 128·Σx.
- ``differential``: two groups (positive and negative arrays) storing |q| in the group of its sign.

A new encoding is one file: ``register_encoding(Encoding(name, groups, reference_weights, slicer))``
where ``slicer(q, bits_per_cell, dtype) -> Cells`` (see docs/extending.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hyflexpim.config.registry import Registry


@dataclass(frozen=True)
class Encoding:
    name: str
    groups: int  # column groups per weight (2 for differential pairs)
    reference_weights: int  # extra weights' columns per block (1 for an offset reference column set)
    slicer: str | Callable[..., Any]  # "module:function" (imported on first use) or the function itself
    description: str = ""

    def slice_fn(self) -> Callable[..., Any]:
        if callable(self.slicer):
            return self.slicer

        module, _, fn = self.slicer.partition(":")
        out: Callable[..., Any] = getattr(importlib.import_module(module), fn)
        return out


ENCODINGS: Registry[Encoding] = Registry("encoding")


def register_encoding(enc: Encoding, replace: bool = False) -> Encoding:
    return ENCODINGS.register(enc.name, enc, replace)


def get_encoding(name: str, field: str | None = "encoding") -> Encoding:
    return ENCODINGS.get(name, field)


register_encoding(Encoding("twos_complement", 1, 0, "hyflexpim.device.slicing:slice_twos_complement",
                           "one group, signed top slice (the authors')"))
register_encoding(Encoding("offset", 1, 1, "hyflexpim.device.slicing:slice_offset",
                           "q + 128 unsigned, 128·Σx subtracted from a reference column set"))
register_encoding(Encoding("differential", 2, 0, "hyflexpim.device.slicing:slice_differential",
                           "positive and negative column groups, |q| in the group of its sign"))
