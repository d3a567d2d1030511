"""The chip description: declarative YAML specs validated with pydantic, read by both sides.

A spec either describes a PIM chip (``kind: pim``), composed from the component library, a
roofline baseline (``kind: roofline``), a GPU's kernels (``kind: gpu``) or an attention-only design
(``kind: attention``). ``base: <name>`` inherits another spec and overrides keys.
The accuracy side (``hyflexpim.sim``) takes its cell, array, ADC and attention precision from the
same PIM spec the cost side (``hyflexpim.hw``) prices. Torch-free. Every problem becomes one
:class:`UserError` naming the field.

Named designs are a registry: the YAML files beside this module, plus ``register_design(name, path)``.
Spec kinds are a registry too (``SPEC_KINDS``: kind -> pydantic class), filled from the design folders
(``hyflexpim/methods/designs/<kind>/``, registered in ``hyflexpim.config.methods``) at its first read; the cost
model of a kind is the folder's ``cost.py`` (``hyflexpim.hw.designs.COST_MODELS``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, Field, field_validator

from hyflexpim.chip.encodings import ENCODINGS
from hyflexpim.config import Registry, Strict, deep_merge, load_yaml, validate
from hyflexpim.config.methods import design_methods, fill_from, prediction_kinds
from hyflexpim.errors import UserError

T = TypeVar("T", bound=BaseModel)

PosI = Annotated[int, Field(gt=0)]
PosF = Annotated[float, Field(gt=0)]
NonNegI = Annotated[int, Field(ge=0)]
NonNegF = Annotated[float, Field(ge=0)]


class _M(Strict):
    config_name = "spec"


class _Design(_M):
    """A design's spec (a class of ``SPEC_KINDS``). ``attach`` reads what a validated spec names beside its file
    (``folder``); the default reads nothing."""

    def attach(self, folder: Path | None, where: str) -> Self:
        return self


class Component(_M):
    action: str
    area_um2: NonNegF = 0.0
    energy_pj: NonNegF = 0.0
    latency_ns: float | None = Field(default=None, gt=0)
    ref_bits: int | None = Field(default=None, gt=0)


class Library(_M):
    components: dict[str, Component]


class Chip(_M):
    pus: PosI
    max_chips: PosI
    noc: str
    chip_link: str


class PU(_M):
    analog_modules: PosI
    digital_modules: PosI


class Analog(_M):
    arrays: PosI
    rows: PosI
    cols: PosI
    input_bits: PosI
    weight_bits: PosI = 8
    mlc_bits: int = Field(2, ge=1, le=4, description="bits per MLC cell (SLC cells hold 1)")
    # signed weights in cells (a registered encoding, hyflexpim.chip.encodings): differential pairs take
    # twice the columns; offset adds one reference weight's columns per block
    encoding: str = "twos_complement"
    adc_bits_mlc: PosI
    adc_bits_slc: PosI

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        return ENCODINGS.check(v)

    def cells_per_weight(self, slc: bool) -> int:
        """Cells (columns) one weight takes in one column group: SLC 1 bit per cell, MLC mlc_bits."""
        return self.weight_bits if slc else -(-self.weight_bits // self.mlc_bits)

    def exact_adc_bits(self, slc: bool) -> int:
        """Bits for an exact column sum: ceil(log2(rows·(2^b − 1) + 1)), b bits per cell."""
        b = 1 if slc else self.mlc_bits
        return (self.rows * ((1 << b) - 1)).bit_length()

    def adc_covered_levels(self, slc: bool) -> int:
        """Largest column sum (in cell levels) the ADC codes without clipping, under ``adc_range``."""
        bits = self.adc_bits_slc if slc else self.adc_bits_mlc
        full = self.rows * ((1 << (1 if slc else self.mlc_bits)) - 1)
        return full if self.adc_range != "level_step" else min(full, (1 << bits) - 1)

    adc_energy_scaling: Literal["linear", "walden"] = "linear"
    adc_time_scales_with_bits: bool = False
    adc_share: PosF = Field(1.0, description="arrays per ADC (ASADI: 1.5, 16 ADCs as 64 for 96 arrays); "
                                            "conversions queue")
    adc_range: Literal["level_step", "full_scale", "calibrated"] = Field(
        "level_step", description="what the ADC's codes cover: level_step = one cell level per LSB, sums above "
        "2^bits-1 levels clip; full_scale = rows x max level, LSB scaled up; calibrated = a measured range "
        "(accuracy side). An exact sum needs exact_adc_bits() bits")
    adc: str
    array: str
    driver: str
    shift_add: str
    buffer: str
    psum_adder: str


class Digital(_M):
    arrays: PosI
    rows: PosI
    cols: PosI
    pim: str
    sfu: str
    qk_bits: tuple[int, int]
    sv_bits: tuple[int, int]
    mult_a: float
    mult_b: float
    mult_c: float
    add_per_bit: NonNegF = 0.0
    softmax_ops: NonNegF = 0.0
    layernorm_ops: NonNegF = 0.0
    act_ops: NonNegF = 0.0
    write: str = Field("rram_cell_write", description="component of one bit written in a digital PIM lane "
                       "(K/V rows, operand copies)")
    attention_density: float = Field(1.0, gt=0, le=1, description="share of Q·Kᵀ (and score×V) entries the "
                                     "design computes (ASADI: 0.1); a plan's sparse attention multiplies it")
    scratch_cols: NonNegI = Field(256, description="columns of every lane kept free for computing (one MAC's "
                                  "operands, product, accumulator and MAGIC intermediate cells); the rest of the "
                                  "lanes' columns hold K, V and scores (hyflexpim.hw.capacity)")

    def mac_steps(self, a: int, b: int) -> float:
        """NOR steps (cycles) for one a-bit x b-bit multiply-accumulate in one lane."""
        return self.mult_a * a * b + self.mult_b * (a + b) + self.mult_c + self.add_per_bit * (a + b)


class Prediction(_M):
    """How a dynamic-sparse-attention design decides which (query, key) entries to compute exactly (priced per
    entry and head on top of the ``digital.attention_density`` share that is then computed). Kinds:
    ``none`` (dense, or a fixed pattern such as a window), ``exact`` (the oracle: every Q·Kᵀ at digital.qk_bits),
    ``low_bit`` (Sanger: Q·Kᵀ at ``bits``), ``pq`` (HARDSEA: per query and head the M·K centroid dot products on
    an analog array read by the SLC ADC, then M adds of ``lut_bits`` per entry; per new key M nearest-centroid
    searches), ``page_bound`` (Quest: 2 head-size MACs per query and page of ``page`` keys), ``accumulated``
    (SpAtten / H2O: one ``digital.sv_bits[0]``-bit add per entry into the token importance), and the kinds of the
    method folders (hyflexpim.config.methods; ``cluster``: per token and head ``clusters`` centroid dot products and
    ``kmeans_iterations`` + 1 k-means distances, top-k over the clusters). Every entry-wise kind but
    ``none`` then picks the winners of each (query, head) row with ``topk_engines`` ``topk`` engines per digital
    module:
    SpAtten's quick-select (HPCA 2021), whose expected work per entry at a kept share k is
    2 + 2k·ln(1/k) + 2(1-k)·ln(1/(1-k)) scores streamed, plus ``topk_round_cycles`` per round, ~2·ln(n) rounds
    per row of n (the expectation of random-pivot selection; hyflexpim.hw.costs_prediction.topk_visits)."""

    kind: str = Field("none", description="a built-in kind above or a method folder's (hyflexpim.config.methods)")
    bits: PosI = 4
    subspaces: PosI = 8
    centroids: PosI = 16
    lut_bits: PosI = 8
    page: PosI = 16
    topk: str = Field("topk_quickselect", description="component of the top-k engine: one score streamed past "
                      "one comparator (energy_pj) and the time per score of the whole engine (latency_ns)")
    topk_engines: PosI = Field(16, description="top-k engines per digital module (assumption: 16 engines x 16 "
                               "comparators = 256 scores per cycle, the SFU's element rate [S]; SpAtten has one)")
    topk_round_cycles: NonNegF = Field(3.0, description="fixed cycles per quick-select round (SpAtten's latency "
                                       "model: ceil(n/16) + 3 per round)")
    clusters: PosI = Field(16, description="key clusters per head (cluster: ClusterKV-style k-means)")
    kmeans_iterations: PosI = Field(10, description="k-means passes over the keys (cluster)")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        kinds = prediction_kinds()
        if v not in kinds:
            raise ValueError(f"unknown prediction kind '{v}' (known: {', '.join(kinds)})")
        return v


class Mapping(_M):
    weights: Literal["plan", "all_slc", "all_mlc"] = "plan"
    mlc_throughput: Literal["spread", "replicate", "none"] = "spread"
    tensor_parallel: NonNegI = 0
    overlap_analog_digital: bool = False
    digital_matrices: Literal["digital_pim", "exclude"] = "digital_pim"
    head: Literal["digital_pim", "analog", "exclude"] = Field(
        "digital_pim", description="matrices outside the layers that the plan keeps digital (heads, pooler): on "
        "the digital PIM of their own stage, on analog arrays (SLC, their own PUs), or left out")
    head_tokens: Literal["last", "all"] = Field(
        "last", description="tokens the head runs on: the last one ([CLS] / the last prompt token, then each "
        "generated token) or every token")
    chips: NonNegI = Field(0, description="chips to use (0: as many as the model needs); ``scaling`` says what "
                           "the spare PUs do")
    scaling: Literal["tensor", "pipeline", "data"] = Field(
        "tensor", description="what extra PUs (mapping.chips, mapping.tensor_parallel) do: tensor = a layer's "
        "matrices split over its PUs, two all-reduces per layer; pipeline = a layer's chain split into one sub-stage "
        "per PU (activations passed on, no all-reduce); data = whole-model replicas (mapping.chips // the chips one "
        "copy needs), the batch split over them")
    act_bits: PosI


Ranges = dict[str, tuple[float, float]]


class PimSpec(_Design):
    name: str
    kind: Literal["pim"]
    ranges: Ranges = Field(default_factory=dict, description="assumption -> [low, high]: 'analog.adc_bits_mlc' "
                           "or 'library.<component>.<field>'; the uncertainty band of the headline ratios")
    library: str = "library.yaml"
    clock_ghz: PosF
    chip: Chip
    pu: PU
    analog: Analog
    digital: Digital
    prediction: Prediction = Field(default_factory=Prediction)
    mapping: Mapping
    lib: Library | None = Field(default=None, exclude=True)

    def attach(self, folder: Path | None, where: str) -> Self:
        """The component library the spec names (beside its file, else the built-in one), attached and checked:
        every component the spec names is in it."""
        lib_path = (folder or Path(str(SPEC_DIR))) / self.library
        if not lib_path.exists():
            lib_path = Path(str(SPEC_DIR / self.library))
        self.lib = lib = load_library(lib_path)
        names = {
            "analog.adc": self.analog.adc, "analog.array": self.analog.array, "analog.driver": self.analog.driver,
            "analog.shift_add": self.analog.shift_add, "analog.buffer": self.analog.buffer,
            "analog.psum_adder": self.analog.psum_adder, "digital.pim": self.digital.pim,
            "digital.sfu": self.digital.sfu, "digital.write": self.digital.write, "chip.noc": self.chip.noc,
            "chip.chip_link": self.chip.chip_link, "prediction.topk": self.prediction.topk,
        }
        for field, comp in names.items():
            if comp not in lib.components:
                raise UserError(f"{where}: {field}: component '{comp}' is not in the library "
                                f"({', '.join(sorted(lib.components))})")
        for field in ("digital.qk_bits", "digital.sv_bits"):
            if min(getattr(self.digital, field.split(".")[1])) <= 0:
                raise UserError(f"{where}: {field}: bit widths must be positive")
        if self.digital.scratch_cols >= self.digital.cols:
            raise UserError(f"{where}: digital.scratch_cols: must be below digital.cols ({self.digital.cols}), got "
                            f"{self.digital.scratch_cols}")
        if self.digital.mac_steps(*self.digital.qk_bits) <= 0 or self.digital.mac_steps(*self.digital.sv_bits) <= 0:
            raise UserError(f"{where}: digital.mult_a: NOR steps per MAC must come out positive")
        return self

    def comp(self, name: str) -> Component:
        assert self.lib is not None, "a PimSpec is priced after load_spec attached its library"
        return self.lib.components[name]


class RooflineSpec(_Design):
    name: str
    kind: Literal["roofline"]
    ranges: Ranges = Field(default_factory=dict, description="assumption -> [low, high] (see PimSpec.ranges)")
    buffer_kb: PosF = Field(description="on-chip buffer for weights and activations: bounds weight reuse")
    peak_tmacs: PosF
    mem_gbps: PosF
    weights_on_chip: bool = False
    energy_model: Literal["tdp", "actions"] = "actions"
    power_w: NonNegF = 0.0
    pj_per_mac: NonNegF = 0.0
    pj_per_byte: NonNegF = 0.0
    pj_per_byte_write: NonNegF = 0.0
    static_w: NonNegF = 0.0
    area_mm2: PosF
    token_keep: float = Field(default=1.0, gt=0, le=1)
    prune_pj_per_score: NonNegF = 0.0
    utilisation: float = Field(default=1.0, gt=0, le=1)


class GpuSpec(_Design):
    """A GPU running an inference engine's kernels (``hyflexpim.hw.gpu``): each launch takes
    max(MACs at ``gemm_efficiency`` of the INT8 peak, DRAM bytes / bandwidth) + ``kernel_us``. The two
    fitted parameters name what they were fitted to in ``calibration`` (``hyflexpim.hw.gpu_fit``)."""

    name: str
    kind: Literal["gpu"]
    ranges: Ranges = Field(default_factory=dict, description="assumption -> [low, high] (see PimSpec.ranges)")
    peak_tmacs: PosF = Field(description="dense INT8 tensor-core peak, T MAC/s (datasheet)")
    mem_gbps: PosF = Field(description="DRAM bandwidth, GB/s (datasheet)")
    area_mm2: PosF
    gemm_efficiency: float = Field(gt=0, le=1, description="achievable share of the peak for tensor-core kernels "
                                   "(fitted)")
    kernel_us: NonNegF = Field(description="fixed cost of one kernel launch, microseconds (fitted)")
    calibration: str = Field(description="what gemm_efficiency and kernel_us were fitted to, or 'not calibrated: ...'")
    act_bytes: PosF = Field(1.0, description="bytes per activation element (INT8 engine: 1)")
    weight_bytes: PosF = Field(1.0, description="bytes per weight (INT8: 1)")
    score_bytes: PosF = Field(2.0, description="bytes per attention score written by an unfused attention")
    fused_attention: bool = True
    fused_epilogues: bool = True
    fused_gemms: bool = True
    energy_model: Literal["operating", "tdp"] = "operating"
    operating_power_w: PosF = Field(description="board power while running inference (energy_model: operating)")
    tdp_w: PosF = Field(description="thermal design power (energy_model: tdp)")


class AttentionSpec(_Design):
    """An attention-only dynamic-sparse accelerator (HARDSEA-like): a relevance predictor on every
    (query, key, head) entry, then exact Q·Kᵀ, softmax and score×V on the kept share on digital
    compute-in-memory lanes; the linear layers are not its job (``hyflexpim.hw.attention_only``)."""

    name: str
    kind: Literal["attention"]
    ranges: Ranges = Field(default_factory=dict, description="assumption -> [low, high] (see PimSpec.ranges)")
    clock_ghz: PosF
    area_mm2: PosF
    lanes: PosI = Field(description="INT8 MAC units of the digital CIM working in parallel")
    mac_cycles: PosF = Field(1.0, description="cycles per INT8 MAC per lane")
    pj_per_mac: NonNegF
    kv_pj_per_bit: NonNegF = Field(description="reading one bit of a kept K or V row into the CIM (the gather)")
    sfu_per_cycle: PosF = Field(256, description="softmax elements per cycle")
    pj_per_softmax: NonNegF
    keep: float = Field(0.25, gt=0, le=1, description="share of entries computed exactly (a plan's keep multiplies it)")
    prediction: Prediction = Field(default_factory=lambda: Prediction(kind="pq"))
    predict_lanes: PosI = Field(description="entries the predictor scores per cycle (LUT adders + WTA)")
    pj_per_conversion: NonNegF = Field(0.0, description="PQ: one centroid dot product read on the analog array")
    pj_per_add: NonNegF = Field(0.0, description="PQ: one lookup-table add per sub-space and entry")
    pj_per_decision: NonNegF = Field(0.0, description="one winner-take-all decision per entry")
    overlap: bool = Field(True, description="prediction (analog) pipelined with the exact part (digital)")
    static_w: NonNegF = 0.0


Spec = PimSpec | RooflineSpec | GpuSpec | AttentionSpec
SPEC_DIR = Path(str(resources.files("hyflexpim.chip") / "specs"))



# the design folders' spec classes (``hyflexpim.config.methods.DESIGN_PACKAGES``), at the first read
SPEC_KINDS: Registry[type] = Registry("spec kind", fill=fill_from(design_methods, lambda m: m.load("spec")))

DESIGNS: Registry[Path] = Registry("hardware design")
for _f in sorted(SPEC_DIR.glob("*.yaml")):
    if _f.stem != "library":
        DESIGNS.register(_f.stem, _f)
BUILTIN = tuple(DESIGNS.names())


def register_design(name: str, path: str | Path, replace: bool = False) -> Path:
    """Make a spec YAML file available by name (``--spec name``, ``hardware.spec: name``)."""
    return DESIGNS.register(name, Path(path), replace)


def _read_yaml(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = load_yaml(path, "spec")
    return out


def _resolve(ref: str) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    if ref in DESIGNS:
        return DESIGNS.get(ref)
    raise UserError(f"spec '{ref}' not found: give a YAML file or one of {', '.join(DESIGNS.names())}")


def _raw(ref: str, depth: int = 0) -> tuple[dict[str, Any], Path]:
    path = _resolve(ref)
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is not None:
        if depth > 5:
            raise UserError(f"spec {path}: 'base' chain too deep")
        parent, _ = _raw(str(base), depth + 1)
        data = deep_merge(parent, data)
    return data, path


def _validate(cls: type[T], data: dict[str, Any], where: str) -> T:
    out: T = validate(cls, data, where)
    return out


def load_library(path: Path) -> Library:
    return _validate(Library, _read_yaml(path), f"component library {path}")


def spec_from_dict(data: dict[str, Any], where: str = "spec", folder: Path | None = None) -> Spec:
    """Validate a spec given as a dict (after any ``base`` merge)."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in SPEC_KINDS:
        raise UserError(f"{where}: kind: must be one of {', '.join(SPEC_KINDS.names())}; got {kind!r}")
    cls = SPEC_KINDS.get(kind)
    spec: Spec = _validate(cls, data, where).attach(folder, where)
    return spec


def load_spec(ref: str | Path = "hyflexpim", overrides: dict[str, Any] | None = None) -> Spec:
    """Load a built-in spec by name or a YAML file; ``overrides`` is merged on top (nested dict)."""
    data, path = _raw(str(ref))
    if overrides:
        data = deep_merge(data, overrides)
    return spec_from_dict(data, f"spec {path.name if str(ref) in DESIGNS else path}", path.parent)
