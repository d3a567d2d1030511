"""Typed results of the cost side: ``HwResult`` (one design over sequence lengths), ``CostPoint`` (one design at one
length) and the run information of each kind of design (``PimInfo``, ``RooflineInfo``, ``GpuInfo``,
``AttentionInfo``). Frozen dataclasses (no torch, no pydantic on this path); numbers are plain Python floats.

``as_dict()`` gives the JSON form (``hw_results.json``); ``to_rows(results)`` the flat table of every CSV and
printed table (``hw_results.csv``): the one conversion to rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

Series = tuple[float, ...]  # one value per sequence length

METRICS = ("throughput_tok_s", "tops", "latency_s", "energy_per_inference_j", "energy_per_token_j",
           "tops_per_w", "tops_per_mm2", "area_mm2", "power_w")


def plain(x: Any) -> Any:
    """``x`` with numpy arrays as lists and numpy scalars as Python numbers (the JSON form)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Mapping):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return x


def series(x: Any) -> Series:
    """A per-length vector as a tuple of Python floats."""
    if type(x) is tuple:  # already one (a result copied by ``replace``)
        return x
    return tuple(np.atleast_1d(np.asarray(x, dtype=float)).ravel().tolist())


def _energy(x: Any) -> Any:
    """A per-length energy as a tuple; a category that no stage priced stays a number (as it was computed)."""
    if type(x) is tuple or type(x) is float:
        return x
    return series(x) if np.ndim(x) else float(x)


# ---------------------------------------------------------------------------------------------------------- info
LABELS = ("scope", "batch_label", "compare")  # set by evaluate / compare, written last (when set)


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """What every result says about its run, besides its design's own fields: the scope of the work
    (``self-attention only`` for an attention-only comparison), the batch as labelled, the compare mode."""

    scope: str | None = None
    batch_label: str | None = None
    compare: str | None = None

    def as_dict(self) -> dict[str, Any]:
        own = {f.name: plain(getattr(self, f.name)) for f in fields(self) if f.name not in LABELS}
        return own | {k: getattr(self, k) for k in LABELS if getattr(self, k) is not None}


@dataclass(frozen=True, kw_only=True)
class PimInfo(RunInfo):
    """A PIM chip's mapping and run (``hyflexpim.hw.costs.pim_costs``)."""

    encoding: str
    mlc_bits: int
    cells_per_weight_slc: int
    cells_per_weight_mlc: int
    adc_bits_mlc: int
    adc_exact_bits_mlc: int
    adc_range: str
    adc_covers_levels_mlc: int
    attention_density: float
    prediction: str
    chips: int
    pus_per_layer: int
    stages: int
    head_pus: int
    pus_used: int
    layers_per_chip: int
    arrays_used: int
    arrays_slc: int
    arrays_mlc: int
    array_utilisation: float
    array_fill: float
    fits_one_chip: bool
    slc_weight_fraction: float
    excluded_matrices: list[str]
    batch: int
    gen_tokens: int
    scaling: str
    replicas: int
    peak_power_w_per_pu: float
    area_mm2_per_pu: float
    analog_ns_per_token_bottleneck: float
    digital_room_tokens: int

    def summary(self) -> str:
        return (f"{self.chips} chip(s), {self.pus_per_layer} PU(s) per layer, {self.arrays_used} arrays "
                f"({self.arrays_slc} SLC), utilisation {self.array_utilisation:.1%}, SLC weight share "
                f"{self.slc_weight_fraction:.1%}, batch {self.batch}, scaling {self.scaling}"
                + (f" ({self.replicas} copies)" if self.scaling == "data" else ""))


class _Dense:
    """A design that computes every attention entry and has no SLC/MLC split."""

    attention_density = 1.0
    prediction = "none"
    slc_weight_fraction = None
    scope: str | None
    batch: int

    def summary(self) -> str:
        return f"{self.scope or 'the whole model'}, batch {self.batch}"


@dataclass(frozen=True, kw_only=True)
class RooflineInfo(_Dense, RunInfo):
    """A roofline baseline (``hyflexpim.hw.roofline``)."""

    batch: int
    gen_tokens: int
    buffer_kb: float
    compute_bound: bool


@dataclass(frozen=True, kw_only=True)
class GpuInfo(_Dense, RunInfo):
    """A GPU's kernels (``hyflexpim.hw.gpu``)."""

    batch: int
    gen_tokens: int
    kernel_launches: list[float]
    gemm_efficiency: float
    kernel_us: float
    energy_model: str
    power_w: float
    calibration: str


@dataclass(frozen=True, kw_only=True)
class AttentionInfo(RunInfo):
    """An attention-only accelerator (``hyflexpim.hw.attention_only``)."""

    batch: int
    gen_tokens: int
    attention_density: float
    prediction: str
    slc_weight_fraction = None

    def summary(self) -> str:
        return f"{self.scope or 'the whole model'}, batch {self.batch}"


Info = PimInfo | RooflineInfo | GpuInfo | AttentionInfo


# ------------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CostPoint:
    """One design at one sequence length."""

    design: str | None
    spec: str | None
    model: str | None
    mode: str | None
    slc_rate: float | None
    seq_len: int
    throughput_tok_s: float
    tops: float
    latency_s: float
    energy_per_inference_j: float
    energy_per_token_j: float
    tops_per_w: float
    tops_per_mm2: float
    area_mm2: float
    power_w: float
    energy_by_component_j: Mapping[str, float]
    energy_by_role_j: Mapping[str, float]
    bottleneck: str
    info: Info

    def as_row(self) -> dict[str, Any]:
        """The table row of this point (no gains: ``to_rows`` adds them against the all-SLC result)."""
        row: dict[str, Any] = {"design": self.design, "spec": self.spec, "model": self.model, "mode": self.mode,
                     "slc_rate": self.slc_rate, "slc_weight_fraction": self.info.slc_weight_fraction,
                     "seq_len": self.seq_len}
        row.update({m: getattr(self, m) for m in METRICS})
        return row


@dataclass(frozen=True)
class HwResult:
    """One design priced over sequence lengths: every metric a ``Series`` (one value per ``seq_lens`` entry).

    The cost models fill the metrics, the energies and ``info``; ``evaluate`` / ``compare`` the labels (``mode``:
    encoder, a decoder's prefill or generation; ``spec``, ``model``, ``seq_lens``, ``slc_rate``, ``key``: the
    design's name in a comparison, ``hyflexpim`` for the subject)."""

    throughput_tok_s: Series
    tops: Series
    latency_s: Series
    energy_per_inference_j: Series
    energy_per_token_j: Series
    tops_per_w: Series
    tops_per_mm2: Series
    area_mm2: Series
    power_w: Series
    ops_per_inference: Series
    energy_by_component_j: Mapping[str, Series]  # J per inference by energy category
    energy_by_role_j: Mapping[str, Series]  # J per inference by matrix role / part
    bottleneck_stage: tuple[str, ...]
    info: Info
    bottleneck_share: Series | None = None  # PIM: the slowest stage's share of a sequence's time
    mode: str | None = None
    spec: str | None = None
    model: str | None = None
    seq_lens: tuple[int, ...] = ()
    slc_rate: float | None = None
    key: str | None = None
    gain_over_dense_all_slc: Series | None = None  # a sparse plan's throughput over dense all-SLC (price_plans)

    def __post_init__(self) -> None:
        for f in (*METRICS, "ops_per_inference"):
            object.__setattr__(self, f, series(getattr(self, f)))
        for f in ("energy_by_component_j", "energy_by_role_j"):
            object.__setattr__(self, f, {k: _energy(v) for k, v in getattr(self, f).items()})
        object.__setattr__(self, "bottleneck_stage", tuple(str(b) for b in self.bottleneck_stage))
        object.__setattr__(self, "seq_lens", tuple(int(L) for L in self.seq_lens))
        for f in ("bottleneck_share", "gain_over_dense_all_slc"):
            if getattr(self, f) is not None:
                object.__setattr__(self, f, series(getattr(self, f)))

    @classmethod
    def of(cls, **fields: Any) -> HwResult:
        """A result from a cost model's arrays (numpy vectors over the lengths; converted to ``Series``)."""
        return cls(**fields)

    def replace(self, **changes: Any) -> HwResult:
        return dataclasses.replace(self, **changes)

    def with_info(self, **changes: Any) -> HwResult:
        return dataclasses.replace(self, info=dataclasses.replace(self.info, **changes))

    @property
    def pim(self) -> PimInfo:
        """``info`` of a PIM design (its chips, PUs, arrays ...); TypeError for a design of another kind."""
        if not isinstance(self.info, PimInfo):
            raise TypeError(f"{self.spec} is not a PIM design: its info is {type(self.info).__name__}")
        return self.info

    def point(self, i: int) -> CostPoint:
        """The result at ``seq_lens[i]``."""
        def at(v: Any) -> float:
            return float(v[i] if isinstance(v, tuple) else v)

        return CostPoint(
            design=self.key, spec=self.spec, model=self.model, mode=self.mode, slc_rate=self.slc_rate,
            seq_len=self.seq_lens[i], throughput_tok_s=self.throughput_tok_s[i], tops=self.tops[i],
            latency_s=self.latency_s[i], energy_per_inference_j=self.energy_per_inference_j[i],
            energy_per_token_j=self.energy_per_token_j[i], tops_per_w=self.tops_per_w[i],
            tops_per_mm2=self.tops_per_mm2[i], area_mm2=self.area_mm2[i], power_w=self.power_w[i],
            energy_by_component_j={k: at(v) for k, v in self.energy_by_component_j.items()},
            energy_by_role_j={k: at(v) for k, v in self.energy_by_role_j.items()},
            bottleneck=self.bottleneck_stage[i] if i < len(self.bottleneck_stage) else "", info=self.info)

    @property
    def points(self) -> tuple[CostPoint, ...]:
        return tuple(self.point(i) for i in range(len(self.seq_lens)))

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``hw_results.json``): metrics, energies, bottleneck, info, then the labels."""
        out: dict[str, Any] = {m: list(getattr(self, m)) for m in (*METRICS, "ops_per_inference")}
        out["energy_by_component_j"] = plain(self.energy_by_component_j)
        out["energy_by_role_j"] = plain(self.energy_by_role_j)
        out["bottleneck_stage"] = list(self.bottleneck_stage)
        if self.bottleneck_share is not None:
            out["bottleneck_share"] = list(self.bottleneck_share)
        out["info"] = self.info.as_dict()
        out |= {"mode": self.mode, "spec": self.spec, "model": self.model, "seq_lens": list(self.seq_lens),
                "slc_rate": self.slc_rate}
        if self.key is not None:
            out["key"] = self.key
        if self.gain_over_dense_all_slc is not None:
            out["gain_over_dense_all_slc"] = list(self.gain_over_dense_all_slc)
        return out


def to_rows(results: Sequence[HwResult]) -> list[dict[str, Any]]:
    """One row per design, mode (encoder; a decoder's prefill or generation) and sequence length; gains are
    relative to the all-SLC baseline of the same mode; then the energy by category. The one conversion of results
    to table rows (``hw_results.csv``, the HTML and the plots read it)."""
    refs: dict[str | None, HwResult] = {}
    for r in results:
        if r.key == "all_slc":
            refs.setdefault(r.mode, r)
    out = []
    for r in results:
        ref = refs.get(r.mode)
        for i, p in enumerate(r.points):
            row = p.as_row()
            if ref is not None:
                row["throughput_vs_all_slc"] = r.throughput_tok_s[i] / ref.throughput_tok_s[i]
                row["efficiency_vs_all_slc"] = r.tops_per_w[i] / ref.tops_per_w[i]
            for cat, v in p.energy_by_component_j.items():
                row[f"energy_{cat}_j"] = v
            out.append(row)
    return out


def as_dicts(results: Iterable[HwResult]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in results]
