"""Roll the component library up the hierarchy: area and full-activity power per module, PU, chip.

Full-activity power of a block = energy per action x action rate at full activity:
ADC, array column read, shift-add and buffer act once per conversion (1/t_conv per ADC; an ADC serves
``adc_share`` arrays); a wordline driver once per input bit (every ``cols`` conversions of its array); a NOR-PIM array
does one NOR
step per lane per cycle; the SFU takes 256 inputs per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hyflexpim.chip.spec import PimSpec, Spec, load_spec
from hyflexpim.errors import UserError

S = TypeVar("S", bound=Spec)


def adc_energy_pj(spec: PimSpec, bits: int) -> float:
    c = spec.comp(spec.analog.adc)
    ref = c.ref_bits or bits
    if spec.analog.adc_energy_scaling == "walden":
        return c.energy_pj * 2.0 ** (bits - ref)
    return c.energy_pj * bits / ref


def load_as(cls: type[S], ref: str | Path = "hyflexpim", overrides: dict[str, Any] | None = None) -> S:
    """``load_spec`` of a spec that must be of class ``cls`` (one line naming it otherwise)."""
    spec = load_spec(ref, overrides)
    if not isinstance(spec, cls):
        raise UserError(f"spec '{ref}' is a {spec.kind} spec, not {cls.__name__}")
    return spec


def latency_ns(spec: PimSpec, name: str) -> float:
    """The time of one action of library component ``name`` (ns); one line naming it when the library has none."""
    t = spec.comp(name).latency_ns
    if t is None:
        raise UserError(f"library component '{name}' has no latency_ns: the chip model needs the time of its action")
    return t


def adc_time_ns(spec: PimSpec, bits: int) -> float:
    c = spec.comp(spec.analog.adc)
    ref = c.ref_bits or bits
    return latency_ns(spec, spec.analog.adc) * (bits / ref if spec.analog.adc_time_scales_with_bits else 1.0)


def conversion_energy_pj(spec: PimSpec, slc: bool) -> dict[str, float]:
    """Energy of one conversion by category (ADC, array column read, shift-add, buffer)."""
    a = spec.analog
    return {
        "adc": adc_energy_pj(spec, a.adc_bits_slc if slc else a.adc_bits_mlc),
        "arrays": spec.comp(a.array).energy_pj,
        "shift_add": spec.comp(a.shift_add).energy_pj,
        "buffers": spec.comp(a.buffer).energy_pj,
    }


def analog_module(spec: PimSpec) -> dict[str, dict[str, float]]:
    """Area (mm2) and full-activity power (W) of one analog module, by block (MLC mode)."""
    a = spec.analog
    t = adc_time_ns(spec, a.adc_bits_mlc) * 1e-9
    rate = 1.0 / t  # conversions per second per array
    e = conversion_energy_pj(spec, slc=False)
    drv = spec.comp(a.driver)
    adcs = a.arrays / a.adc_share  # logical ADCs; each array is read 1/adc_share of the time
    area = {
        "adc": adcs * spec.comp(a.adc).area_um2,
        "arrays": a.arrays * spec.comp(a.array).area_um2,
        "drivers": a.arrays * a.rows * drv.area_um2,
        "shift_add": a.arrays * spec.comp(a.shift_add).area_um2,
        "buffers": spec.comp(a.buffer).area_um2 + a.arrays * spec.comp(a.psum_adder).area_um2,
    }
    power = {k: adcs * rate * v * 1e-12 for k, v in e.items() if k != "buffers"}
    power["drivers"] = a.arrays * a.rows * (rate / a.adc_share / a.cols) * drv.energy_pj * 1e-12
    power["buffers"] = adcs * rate * e["buffers"] * 1e-12
    return {"area_mm2": {k: v * 1e-6 for k, v in area.items()}, "power_w": power}


def digital_module(spec: PimSpec) -> dict[str, dict[str, float]]:
    d = spec.digital
    pim, sfu = spec.comp(d.pim), spec.comp(d.sfu)
    nor_rate = d.rows / (latency_ns(spec, d.pim) * 1e-9)  # NOR steps per second per array
    return {
        "area_mm2": {"digital_pim": d.arrays * pim.area_um2 * 1e-6, "sfu": sfu.area_um2 * 1e-6},
        "power_w": {"digital_pim": d.arrays * nor_rate * pim.energy_pj * 1e-12,
                    "sfu": sfu.energy_pj / (latency_ns(spec, d.sfu) * 1e-9) * 1e-12},
    }


@dataclass(frozen=True)
class PartTotals:
    """Area (mm2) and full-activity power (W) of all analog or all digital modules of a PU, and by block."""

    area_mm2: float
    power_w: float
    area_mm2_by_block: dict[str, float]
    power_w_by_block: dict[str, float]


@dataclass(frozen=True)
class PuTotals:
    """Per-PU area and full-activity power: analog and digital parts, the NoC router's area, the totals."""

    analog: PartTotals
    digital: PartTotals
    noc_area_mm2: float
    area_mm2: float
    power_w: float


def _part(mod: dict[str, dict[str, float]], n: int) -> PartTotals:
    area = {k: v * n for k, v in mod["area_mm2"].items()}
    power = {k: v * n for k, v in mod["power_w"].items()}
    return PartTotals(sum(area.values()), sum(power.values()), area, power)


def pu_totals(spec: PimSpec) -> PuTotals:
    """Per-PU area and full-activity power: analog (all modules), digital (all modules), by block."""
    an = _part(analog_module(spec), spec.pu.analog_modules)
    dg = _part(digital_module(spec), spec.pu.digital_modules)
    noc = spec.comp(spec.chip.noc).area_um2 * 1e-6
    return PuTotals(an, dg, noc, an.area_mm2 + dg.area_mm2 + noc, an.power_w + dg.power_w)


def chip_area_mm2(spec: PimSpec) -> float:
    return spec.chip.pus * pu_totals(spec).area_mm2
