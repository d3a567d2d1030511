"""Published RRAM compute-in-memory macros: their design parameters and their published figures, each value with
its source. Read by ``hyflexpim.hw.silicon`` (the silicon validation of the component library). Torch-free.

A macro file (``specs/macros/<name>.yaml``) is either ``kind: analog`` (an analog RRAM CIM macro: array, inputs,
ADCs, clock, node, supply, and its TOPS/W, MVM latency, TOPS/mm2 and energy split) or ``kind: digital`` (a
digital memristive PIM design: energy and latency of one stateful-logic gate and the gate counts of an INT8
multiply). ``specs/macros/fits.yaml`` names every parameter fitted to a macro; everything else is predicted.
Every problem is one :class:`UserError` naming the field.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from hyflexpim.config import Registry, Strict, load_yaml, validate
from hyflexpim.errors import UserError

MACRO_DIR = Path(str(resources.files("hyflexpim.chip") / "specs" / "macros"))
FITS_FILE = "fits.yaml"
Source = Annotated[str, Field(min_length=3, description="where the value comes from: paper, figure/table/section")]


class _M(Strict):
    config_name = "macro"


class Value(_M):
    """One number and where it comes from."""

    value: float
    source: Source

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class Positive(Value):
    @field_validator("value")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be > 0")
        return v


class Count(Positive):
    @field_validator("value")
    @classmethod
    def _whole(cls, v: float) -> float:
        if v != int(v):
            raise ValueError("must be a whole number")
        return v


CATEGORIES = ("adc", "arrays", "drivers", "shift_add", "buffers")
Category = Literal["adc", "arrays", "drivers", "shift_add", "buffers"]


class Share(_M):
    """One slice of a published energy split and the model categories it is compared with."""

    share: float = Field(ge=0, le=1)
    model: list[Category] = Field(min_length=1, description=f"model categories: {', '.join(CATEGORIES)}")
    source: Source


class AnalogDesign(_M):
    """What one MVM of the macro does (the operation its published latency refers to), and its technology."""

    node_nm: Positive
    vdd_v: Positive = Field(description="supply of the CMOS periphery (scales its energy as V^2)")
    read_v: Positive = Field(description="voltage across the cells when read (scales the cell energy as V^2)")
    rows: Count = Field(description="inputs (word lines) summed into one conversion")
    outputs: Count = Field(description="outputs (weights of a row) converted per MVM")
    devices_per_weight: Count = Field(description="RRAM devices holding one weight (x2 differential, x slices)")
    conversions_per_output: Count = Field(description="ADC conversions per output per input step")
    bits_per_cell: Count
    weight_bits: Count
    input_bits: Count
    dac_bits: Count = Field(description="input bits applied per step (1 = bit-serial)")
    adc_bits: Count
    adcs: Count = Field(description="ADCs converting in parallel")
    clock_mhz: Positive = Field(description="readout clock; a SAR conversion takes adc_bits cycles (model rule)")
    devices: Count = Field(description="RRAM devices of the macro (area)")
    cores: Count = Field(description="identical cores the published throughput is summed over")


class AnalogPublished(_M):
    condition: str = Field(min_length=3, description="precision and operating point of the figures")
    tops_per_w: Positive | None = None
    mvm_latency_ns: Positive | None = None
    tops_per_mm2: Positive | None = None
    energy_split: dict[str, Share] = Field(default_factory=dict)


class AnalogMacro(_M):
    kind: Literal["analog"]
    name: str
    reference: str = Field(min_length=10, description="the paper")
    silicon: Literal["measured", "simulated"]
    read_from: str = Field(min_length=10, description="how the values were obtained (primary text, secondary reading)")
    design: AnalogDesign
    published: AnalogPublished

    @field_validator("published")
    @classmethod
    def _split_sums_to_one(cls, v: AnalogPublished) -> AnalogPublished:
        if v.energy_split and abs(sum(s.share for s in v.energy_split.values()) - 1.0) > 0.02:
            raise ValueError("energy_split shares must sum to 1 (within 0.02)")
        return v


class DigitalMacro(_M):
    """A digital memristive PIM design: one stateful-logic gate and published gate counts of an INT8 multiply."""

    kind: Literal["digital"]
    name: str
    reference: str = Field(min_length=10)
    silicon: Literal["measured", "simulated"]
    read_from: str = Field(min_length=10)
    gate: str = Field(min_length=2, description="the logic primitive (MAGIC NOR, ...)")
    gate_energy_fj: Positive
    gate_latency_ns: Positive
    multiply_gates_int8: dict[str, Count] = Field(min_length=1, description="algorithm -> gates (cycles) of one "
                                                  "8-bit x 8-bit multiply in one row")


Macro = AnalogMacro | DigitalMacro
MACRO_KINDS: Registry[type] = Registry("macro kind")
MACRO_KINDS.register("analog", AnalogMacro)
MACRO_KINDS.register("digital", DigitalMacro)

MACROS: Registry[Path] = Registry("published macro")
for _f in sorted(MACRO_DIR.glob("*.yaml")):
    if _f.name != FITS_FILE:
        MACROS.register(_f.stem, _f)


class Fit(_M):
    """One parameter fitted to one published figure of one macro."""

    macro: str
    figure: Literal["tops_per_w", "mvm_latency_ns", "tops_per_mm2"]
    why: str = Field(min_length=10)


class Fits(_M):
    fits: dict[Literal["adc_energy_scale"], Fit] = Field(default_factory=dict)


def _path(ref: str | Path) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise UserError(f"macro file {p} not found")
        return p
    if str(ref) in MACROS:
        return MACROS.get(str(ref))
    raise UserError(f"macro '{ref}' not found: give a YAML file or one of {', '.join(MACROS.names())}")


def load_macro(ref: str | Path) -> Macro:
    """A built-in macro by name or a YAML file; validated (one line naming the field on any problem)."""
    path = _path(ref)
    where = f"macro {path.name}"
    data = load_yaml(path, "macro")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in MACRO_KINDS:
        raise UserError(f"{where}: kind: must be one of {', '.join(MACRO_KINDS.names())}; got {kind!r}")
    return validate(MACRO_KINDS.get(kind), data, where)


def load_fits(path: str | Path | None = None) -> Fits:
    """The fitted parameters (``specs/macros/fits.yaml``): each names the macro and the figure it was fitted to."""
    p = Path(path) if path is not None else MACRO_DIR / FITS_FILE
    fits = validate(Fits, load_yaml(p, "fits"), f"fits {p.name}")
    for name, f in fits.fits.items():
        if f.macro not in MACROS:
            raise UserError(f"fits {p.name}: fits.{name}.macro: '{f.macro}' is not a built-in macro "
                            f"({', '.join(MACROS.names())})")
    return fits
