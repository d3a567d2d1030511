"""The network part of the PIM cost: the on-chip NoC (tensor-parallel all-reduces, activation hops) and the
chip-to-chip links on one sequence's path, per ``mapping.scaling`` (hyflexpim.hw.costs explains the model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hyflexpim.chip.spec import PimSpec
from hyflexpim.hw.library import latency_ns
from hyflexpim.hw.mapping import Mapping
from hyflexpim.plan import Architecture


@dataclass(frozen=True)
class NetworkCost:
    """The network part: per stage (arrays over ``mapping.stages``) and per token, the all-reduce time (tensor
    parallelism) and the activation hop (a floor, overlapped); NoC bits per token of the whole model; the
    SerDes links on one sequence's path."""

    ar_ns: np.ndarray
    act_ns: np.ndarray
    noc_bits: float
    link_bits: float
    n_links: int
    link_ns_per_bit: float
    link_pj_per_bit: float
    noc_pj_per_bit: float

    def link_time(self, n: Any) -> Any:
        """Time (ns) of n tokens' activations over one chip boundary."""
        return n * self.link_bits * self.link_ns_per_bit

    def energy_pj_per_token(self) -> float:
        return self.noc_bits * self.noc_pj_per_bit + self.n_links * self.link_bits * self.link_pj_per_bit


# NoC bits per token and layer of p PUs, in hidden vectors: tensor = the activations in + two ring all-reduces
# (each 2(p-1)/p vectors per PU, p PUs); pipeline = one hop into each sub-stage; data = a replica's tensor layout
NOC_VECTORS = {"tensor": lambda p: 1 + 4 * (p - 1), "pipeline": lambda p: p, "data": lambda p: 1 + 4 * (p - 1)}


def network_costs(mp: Mapping, spec: PimSpec, shape: Architecture) -> NetworkCost:
    noc, link = spec.comp(spec.chip.noc), spec.comp(spec.chip.chip_link)
    noc_ns, link_ns = latency_ns(spec, spec.chip.noc), latency_ns(spec, spec.chip.chip_link)
    vec = spec.mapping.act_bits * shape.hidden  # bits of one hidden vector
    tp = 0.0 if mp.scaling == "pipeline" else 1.0  # sub-stages pass activations on, they do not all-reduce
    ar_bits = [tp * vec * 2 * 2 * (s.pus - 1) / s.pus for s in mp.stages]  # 2 ring all-reduces
    return NetworkCost(
        ar_ns=np.array([b * noc_ns for b in ar_bits]),
        act_ns=np.full(len(mp.stages), vec * noc_ns),
        noc_bits=sum(vec * NOC_VECTORS[mp.scaling](s.pus) for s in mp.stages if s.is_layer),
        link_bits=vec, n_links=mp.chips_per_replica - 1,  # chip boundaries on one sequence's path (one replica)
        link_ns_per_bit=link_ns, link_pj_per_bit=link.energy_pj, noc_pj_per_bit=noc.energy_pj)
