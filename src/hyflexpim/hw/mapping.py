"""Mapping a plan onto analog arrays: blocks, arrays, conversions, PUs per layer, chips.

A decomposed matrix (unit=component, rank k) is two GEMVs: ΣVᵀ [k x d_in] then U [d_out x k].
Component i is row i of ΣVᵀ (an *output* of GEMV 1) and column i of U (an *input row* of GEMV 2),
so SLC components become SLC output columns of GEMV 1 and SLC input rows of GEMV 2. An array
is either SLC (8 one-bit columns per INT8 weight) or MLC (ceil(8 / ``analog.mlc_bits``) columns:
4 for 2-bit cells), so each GEMV is split into an SLC block and an MLC block. A block of R input
rows and C cell columns is tiled row- and column-wise onto ceil(R/64) x ceil(C/128) arrays (the
``analog.encoding``'s geometry: differential pairs double C, an offset encoding adds one reference
weight's columns per block); partial sums of row tiles (and of
the SLC and MLC halves of U) are added digitally. Row-unit matrices (and the all-SLC/all-MLC
baselines) map W [d_out x d_in] directly: one GEMV, SLC rows = SLC output columns.

Packing (so that cells, arrays and conversions never fall when the SLC rate rises):

* Blocks that read the same input vector (the SLC and MLC halves of one GEMV, and q/k/v or
  ffn_in/ffn_gate, which all read the layer's input) share arrays column-wise: their columns are
  laid side by side, ceil(R/64) x ceil(sum of C / 128) arrays for the group, one read drives them
  all. An array may then hold SLC and MLC columns (assumption: the shift-and-add weight is per
  column, x1,x2,.. for SLC and x1,x4,.. for MLC, and the reconfigurable SAR ADC is set per
  conversion). Each block is charged its share of the group's column tiles.
* U's rows (its components) are split into an SLC and an MLC block with ceil(n/64) and
  ceil((k-n)/64) row tiles; one more SLC component can empty the last MLC row tile, so a plan
  with fewer SLC components could convert more columns. The mapper therefore stores U's first
  n2 >= n components in SLC rows (MLC components filling the free rows of the last SLC tile, more
  precise than the plan asks, never less), n2 the cheapest in energy of the choices; the plan's
  own SLC share is what ``slc_weight_fraction`` reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from hyflexpim.chip.encodings import get_encoding
from hyflexpim.chip.spec import PimSpec
from hyflexpim.errors import UserError
from hyflexpim.hw.library import conversion_energy_pj
from hyflexpim.plan import MatrixPlan, Plan

# dependency chain inside a layer: GEMVs of one group can run at the same time
CHAIN = {"q": 0, "k": 0, "v": 0, "qkv": 0, "o": 1, "ffn_in": 2, "ffn_gate": 2, "ffn_out": 3, "head": 4, "other": 4}
SHARED_INPUT = ("q", "k", "v", "qkv", "ffn_in", "ffn_gate")  # matrices that read the same vector as their siblings
ROLES = ("q", "k", "v", "qkv", "o", "ffn_in", "ffn_gate", "ffn_out", "head", "other")


@dataclass
class Block:
    role: str
    step: int  # position in the dependency chain
    slc: bool
    rows: int  # input rows R
    cols: int  # cell columns C
    row_tiles: int
    col_tiles: float  # column tiles charged to this block: its share of its input group's (see ``pack``)
    outputs: int  # output values of this block
    merge_adds: int = 0  # extra adds to merge with the other (SLC/MLC) block of the same outputs
    promoted: int = 0  # rows of an SLC U block that the plan puts in MLC (stored in SLC by the mapper)
    group: str = ""  # blocks of one group read the same input vector and share arrays column-wise ("": alone)

    @property
    def arrays(self) -> float:
        return self.row_tiles * self.col_tiles


@dataclass
class Stage:
    """One pipeline stage: the matrices of one layer, or ("head") everything outside the layers."""

    key: str
    blocks: list[Block] = field(default_factory=list)
    digital_macs: int = 0  # per token, plan matrices kept digital and run on digital PIM
    dense_macs: int = 0  # per token, of the original (undecomposed) matrices
    pus: int = 1
    macs_by_role: dict[str, int] = field(default_factory=dict)  # per token, dense MACs of each role (for the baselines)

    @property
    def is_layer(self) -> bool:
        return self.key != "head"

    def arrays(self, slc: bool | None = None) -> int:
        """Arrays holding this stage's weights (of one cell kind: its blocks' share, rounded)."""
        x = sum(b.arrays for b in self.blocks if slc is None or b.slc == slc)
        return math.ceil(x - 1e-9) if slc is None else round(x)

    def cells_used(self) -> int:
        return sum(b.rows * b.cols for b in self.blocks)


@dataclass
class Mapping:
    stages: list[Stage]
    pus_per_layer: int
    layers_per_chip: int
    chips: int
    arrays_per_pu: int
    excluded: list[str]
    slc_weight_fraction: float
    scaling: str = "tensor"  # mapping.scaling: how a layer's PUs work together (tensor / pipeline) or data replicas
    replicas: int = 1  # whole-model copies (scaling: data), each on ``chips_per_replica`` chips
    chips_per_replica: int = 0

    @property
    def arrays_used(self) -> int:
        return sum(s.arrays() for s in self.stages)

    @property
    def utilisation(self) -> float:
        """Cells holding weights / cells of the PUs that the stages occupy."""
        cells = sum(s.cells_used() for s in self.stages)
        return cells / (sum(s.pus for s in self.stages) * self.arrays_per_pu * self._cells_per_array)

    @property
    def array_fill(self) -> float:
        """Cells holding weights / cells of the arrays that hold any weight (tile waste)."""
        cells = sum(s.cells_used() for s in self.stages)
        return cells / (self.arrays_used * self._cells_per_array) if self.arrays_used else 0.0

    _cells_per_array: int = 1


def cells_per_weight(spec: PimSpec, slc: bool) -> int:
    """Cells one INT8 weight takes: bits per weight / bits per cell, times the encoding's column groups."""
    return spec.analog.cells_per_weight(slc) * get_encoding(spec.analog.encoding, "analog.encoding").groups


def _tile(role: str, step: int, slc: bool, rows: int, outputs: int, cpw: int, spec: PimSpec) -> Block | None:
    if rows <= 0 or outputs <= 0:
        return None
    a = spec.analog
    enc = get_encoding(a.encoding, "analog.encoding")
    cols = (enc.groups * outputs + enc.reference_weights) * cpw
    return Block(role, step, slc, rows, cols, math.ceil(rows / a.rows), math.ceil(cols / a.cols), outputs)


def matrix_blocks(m: MatrixPlan, spec: PimSpec, force: str | None = None,
                  memo: dict[Any, list[Block]] | None = None) -> list[Block]:
    """Blocks of one analog matrix. ``force`` = 'all_slc'/'all_mlc' maps W directly (no SVD). ``memo`` (one spec):
    the matrices of identical layers map identically, so each distinct one is tiled once (fresh copies returned)."""
    group = f"in{2 * CHAIN[m.role]}" if m.role in SHARED_INPUT else f"m:{m.name}"
    if memo is None:
        return _matrix_blocks(m, spec, force, group)
    key = (m.role, tuple(m.shape), m.unit, m.rank, len(m.slc), force)
    if key not in memo:
        memo[key] = _matrix_blocks(m, spec, force, "")
    return [replace(b, group=group if b.step % 2 == 0 else "") for b in memo[key]]  # U (odd steps) reads its own


def _matrix_blocks(m: MatrixPlan, spec: PimSpec, force: str | None, group: str) -> list[Block]:
    cpw = {slc: spec.analog.cells_per_weight(slc) for slc in (True, False)}  # columns per weight and group
    d_out, d_in = m.shape
    step = 2 * CHAIN[m.role]
    # ``group``: the GEMV that reads the layer's input is shared by q/k/v (and by ffn_in/ffn_gate), else by this
    # matrix's halves
    k = 0
    if force or m.unit == "row":
        n_slc = d_out if force == "all_slc" else 0 if force == "all_mlc" else len(m.slc)
        tiles = [_tile(m.role, step, True, d_in, n_slc, cpw[True], spec),
                  _tile(m.role, step, False, d_in, d_out - n_slc, cpw[False], spec)]
    else:
        assert m.rank is not None  # a decomposed matrix has a rank (the plan's schema)
        k, n_slc = m.rank, len(m.slc)
        tiles = [  # GEMV 1: ΣVᵀ, SLC components are output columns
            _tile(m.role, step, True, d_in, n_slc, cpw[True], spec),
            _tile(m.role, step, False, d_in, k - n_slc, cpw[False], spec),
        ]
    blocks = [b for b in tiles if b]
    for b in blocks:
        b.group = group
    if force or m.unit == "row":
        return blocks
    return blocks + _u_blocks(m.role, step + 1, k, n_slc, d_out, spec)


def _u_blocks(role: str, step: int, k: int, n_slc: int, d_out: int, spec: PimSpec) -> list[Block]:
    """GEMV 2 (U): its first n2 >= n_slc components as SLC input rows, the rest MLC; both halves produce all
    d_out outputs. n2 is the cheapest choice in energy (conversions, row drivers, partial-sum adds); for a fixed
    number of MLC row tiles the cost only grows with n2, so the candidates are n_slc and k - 64 j."""
    a = spec.analog
    cpw = {slc: a.cells_per_weight(slc) for slc in (True, False)}
    e_conv = {slc: sum(conversion_energy_pj(spec, slc).values()) for slc in (True, False)}
    drv, add = spec.comp(a.driver).energy_pj, spec.comp(a.psum_adder).energy_pj
    best: tuple[float, int, list[Block]] | None = None
    for n2 in sorted({n_slc} | {k - a.rows * j for j in range(k // a.rows + 1) if k - a.rows * j > n_slc}):
        blocks = [b for b in (_tile(role, step, True, n2, d_out, cpw[True], spec),
                              _tile(role, step, False, k - n2, d_out, cpw[False], spec)) if b]
        if len(blocks) == 2:
            blocks[1].merge_adds = d_out
        cost = sum(a.input_bits * (b.row_tiles * b.cols * e_conv[b.slc] + b.rows * b.col_tiles * drv)
                   + ((b.row_tiles - 1) * b.outputs + b.merge_adds) * add for b in blocks)
        if best is None or cost < best[0] * (1 - 1e-12):
            best = (cost, n2, blocks)
    assert best is not None  # n_slc is always a candidate
    _, n2, blocks = best
    for b in blocks:
        if b.slc:
            b.promoted = n2 - n_slc
    return blocks


def pack(blocks: list[Block], spec: PimSpec) -> None:
    """Blocks that read the same input vector (``Block.group``: the halves of one GEMV 1 or direct W, and those of
    q/k/v or ffn_in/ffn_gate; a U block reads its own components) share arrays column-wise; each is charged its
    share of the group's ceil(sum of columns / 128) column tiles."""
    groups: dict[tuple[Any, ...], list[Block]] = {}
    for b in blocks:
        groups.setdefault((b.group, b.rows) if b.group else (id(b),), []).append(b)
    for g in groups.values():
        cols = sum(b.cols for b in g)
        tiles = math.ceil(cols / spec.analog.cols)
        for b in g:
            b.col_tiles = tiles * b.cols / cols


def _head_blocks(m: MatrixPlan, spec: PimSpec) -> list[Block]:
    """A matrix the plan keeps digital, mapped onto SLC arrays (``mapping.head: analog``): W directly."""
    d_out, d_in = m.shape
    b = _tile(m.role, 2 * CHAIN[m.role], True, d_in, d_out, spec.analog.cells_per_weight(True), spec)
    return [b] if b else []


def map_plan(plan: Plan, spec: PimSpec) -> Mapping:
    """Map every matrix; decide PUs per layer (and for the head stage) and chips; UserError when it cannot fit.

    Layer stages share one PU count: the fewest that hold the largest layer, or ``mapping.tensor_parallel``,
    or what ``mapping.chips`` leaves per layer (``scaling: tensor`` or ``pipeline``). With ``scaling: data``
    one copy of the model takes the fewest chips and ``mapping.chips`` // that many copies run side by side.
    Matrices outside the layers form the "head" stage on PUs of their own (``mapping.head`` says where a
    digital one runs)."""
    force = None if spec.mapping.weights == "plan" else spec.mapping.weights
    stages: dict[str, Stage] = {}
    excluded = []
    memo: dict[Any, list[Block]] = {}
    for m in plan.matrices:
        key = f"layer{m.layer}" if m.layer is not None else "head"
        st = stages.setdefault(key, Stage(key))
        d_out, d_in = m.shape
        where = ("analog" if m.analog else spec.mapping.digital_matrices if m.layer is not None
                 else spec.mapping.head)
        if where == "exclude":
            excluded.append(m.name)
            continue
        st.dense_macs += d_out * d_in
        st.macs_by_role[m.role] = st.macs_by_role.get(m.role, 0) + d_out * d_in
        if where == "digital_pim":
            st.digital_macs += d_out * d_in
        elif m.analog:
            st.blocks += matrix_blocks(m, spec, force, memo)
        else:
            st.blocks += _head_blocks(m, spec)
    order = sorted(stages.values(), key=lambda s: (not s.is_layer, int(s.key[5:]) if s.is_layer else 0))
    order = [s for s in order if s.blocks or s.digital_macs]
    if not order:
        raise UserError("plan has no matrices to map (all excluded): set mapping.digital_matrices to digital_pim")
    for s in order:
        pack(s.blocks, spec)
    layers = [s for s in order if s.is_layer]
    head = [s for s in order if not s.is_layer]

    per_pu = spec.pu.analog_modules * spec.analog.arrays
    need = max([math.ceil(s.arrays() / per_pu) for s in layers] or [1])
    head_pus = max([math.ceil(s.arrays() / per_pu) for s in head] or [0]) or (1 if head else 0)
    tp = spec.mapping.tensor_parallel
    if tp and tp < need:
        raise UserError(f"mapping.tensor_parallel={tp} is too small: a layer needs at least {need} PUs "
                        f"({max(s.arrays() for s in layers)} arrays, {per_pu} per PU)")
    p = max(tp, need, 1)
    pus = spec.chip.pus
    scaling, want = spec.mapping.scaling, spec.mapping.chips
    asked = want if scaling != "data" else 0  # data parallelism: each copy on the fewest chips
    if asked:
        spare = (asked * pus - head_pus) // max(len(layers), 1)
        if spare < need:
            raise UserError(f"mapping.chips={asked} is too few: {len(layers)} layers x {need} PUs "
                            f"+ {head_pus} for the head need {math.ceil((len(layers) * need + head_pus) / pus)} chips")
        p = max(p, spare) if not tp else p
    for s in layers:
        s.pus = p
    for s in head:
        s.pus = head_pus
    if p <= pus:
        per_chip = pus // p
        chips = math.ceil(len(layers) / per_chip) if layers else 0
        free = chips * pus - len(layers) * p
        chips += 0 if head_pus <= free else math.ceil((head_pus - free) / pus)
    else:
        per_chip = 0
        chips = len(layers) * math.ceil(p / pus) + math.ceil(head_pus / pus)
    chips = max(chips, asked, 1)
    if chips > spec.chip.max_chips:
        raise UserError(f"chip.max_chips={spec.chip.max_chips} is too small: this model needs {chips} chips "
                        f"({len(layers)} stages x {p} PUs per layer, {pus} PUs per chip); raise chip.max_chips")
    one, replicas = chips, 1
    if scaling == "data" and want:
        if want < one:
            raise UserError(f"mapping.chips={want} is too few for one copy of the model ({one} chips); "
                            "scaling: data needs a multiple of that")
        if want > spec.chip.max_chips:
            raise UserError(f"chip.max_chips={spec.chip.max_chips} is smaller than mapping.chips={want}")
        replicas, chips = want // one, want
    total = sum(b.rows * b.outputs for s in order for b in s.blocks)
    slc = sum((b.rows - b.promoted) * b.outputs for s in order for b in s.blocks if b.slc)
    mp = Mapping(order, p, per_chip, chips, per_pu, excluded, slc / total if total else 0.0, scaling, replicas, one)
    mp._cells_per_array = spec.analog.rows * spec.analog.cols
    return mp
