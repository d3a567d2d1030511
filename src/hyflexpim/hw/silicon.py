"""Silicon validation: HyFlexPIM's component library prices one MVM of published RRAM CIM macros.

``hyflexpim hw validate`` (and ``python -m hyflexpim.hw.sweep validate``) prints, per macro of
``chip/specs/macros``, the model's TOPS/W, MVM latency, TOPS/mm2 and energy split beside the published figure,
the relative error, and whether the figure was fitted or predicted.

One MVM of a macro (its ``design``: the operation its published latency refers to) is counted as HyFlexPIM's
analog module counts it (``hw/costs.py``, ``hw/library.py``), with the same components of ``library.yaml``:

* input steps  s = ceil(input_bits / dac_bits)                      (bit-serial when dac_bits = 1)
* conversions  n = s x outputs x conversions_per_output             -> sar_adc (at adc_bits, the library's
  bits rule), shift_add and analog_buffer once each
* cells read   s x rows x outputs x devices_per_weight               -> rram_array_64x128 energy / 64 per cell
* row drives   s x rows x dac_bits                                   -> wl_driver (a b-bit DAC = b 1-bit drivers)
* latency      ceil(n / adcs) x adc_bits / clock                      (a SAR ADC resolves one bit per cycle:
  HyFlexPIM's ``adc_time_scales_with_bits`` rule, on the macro's own clock); also ceil(n / adcs) x the
  library's conversion time (1.28 GS/s at 65 nm, the rate HyFlexPIM's chip assumes) x (L / 65 nm), gate delay
  ~ L (Dennard et al. 1974)
* area         devices x the library's cell (4F^2), ADCs, drivers, shift-adds and buffer share per ADC

Scaling from the library (65 nm; supply not given by the reference: ``REF_VDD_V`` = 1.0 V, an assumption) to the
macro's node L and supply V, explicit and sourced:

* CMOS energy x (L / 65 nm) x (V / 1.0 V)^2: dynamic energy C V^2 with C proportional to the feature size
  (constant-field scaling: R. H. Dennard et al., "Design of ion-implanted MOSFET's with very small physical
  dimensions", IEEE JSSC 9(5), 1974). Stillmaker & Baas ("Scaling equations for the accurate prediction of CMOS
  device performance from 180 nm to 7 nm", Integration 58, 2017) fit measured per-node factors that fall more
  slowly than this below ~45 nm: this rule is optimistic for 22-28 nm macros.
* cell read energy x (V_read / 1.0 V)^2: E = G V^2 t of a resistive cell; a device property, no node factor.
* area x (L / 65 nm)^2 (same sources).

Fitted parameters are named in ``chip/specs/macros/fits.yaml`` with the one figure of the one macro each is fitted
to; the other figures are predictions. ``fit=False`` prices every figure with the library as it is.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.chip.macro import (
    MACROS,
    AnalogMacro,
    DigitalMacro,
    Fits,
    load_fits,
    load_macro,
)
from hyflexpim.chip.spec import PimSpec, load_spec
from hyflexpim.errors import UserError
from hyflexpim.hw.library import adc_energy_pj, adc_time_ns, latency_ns

REF_NODE_NM = 65.0  # library.yaml: "65 nm"
REF_VDD_V = 1.0     # assumption: the reference gives no supply for its 65 nm library
CATEGORIES = ("adc", "arrays", "drivers", "shift_add", "buffers")
MISS = 0.30  # the goal: at most 30 % error on every predicted figure


def cmos_energy_scale(node_nm: float, vdd_v: float) -> float:
    """Dynamic CMOS energy C V^2, C ~ L (Dennard et al., JSSC 1974), relative to the 65 nm / 1.0 V library."""
    return (node_nm / REF_NODE_NM) * (vdd_v / REF_VDD_V) ** 2


def cell_energy_scale(read_v: float) -> float:
    """Energy of a resistive cell read, G V^2 t, relative to the library's (1.0 V assumed)."""
    return (read_v / REF_VDD_V) ** 2


def area_scale(node_nm: float) -> float:
    """Layout area ~ L^2 (Dennard et al., JSSC 1974), relative to 65 nm."""
    return (node_nm / REF_NODE_NM) ** 2


@dataclass(frozen=True)
class MacroCost:
    """One MVM of a macro as the library prices it."""

    ops: float                       # 2 x MACs of one MVM
    energy_pj: dict[str, float]      # by category (CATEGORIES)
    latency_ns: float                # on the macro's clock, one cycle per ADC bit
    area_mm2: dict[str, float]       # one core, by block
    library_latency_ns: float = 0.0  # at the library's ADC rate (1.28 GS/s at 65 nm) scaled by the node

    @property
    def total_pj(self) -> float:
        return sum(self.energy_pj.values())

    @property
    def tops_per_w(self) -> float:
        return self.ops / self.total_pj  # ops per pJ = TOPS/W

    @property
    def tops_per_mm2(self) -> float:
        return self.ops / self.latency_ns * 1e-3 / sum(self.area_mm2.values())

    def share(self, categories: Iterable[str]) -> float:
        return sum(self.energy_pj[c] for c in categories) / self.total_pj


def price(macro: AnalogMacro, spec: PimSpec, adc_energy_scale: float = 1.0) -> MacroCost:
    """One MVM of ``macro`` priced with ``spec``'s component library (see the module docstring)."""
    d = {k: getattr(macro.design, k).value for k in type(macro.design).model_fields}
    a = spec.analog
    adc, arr, drv = spec.comp(a.adc), spec.comp(a.array), spec.comp(a.driver)
    sa, buf = spec.comp(a.shift_add), spec.comp(a.buffer)
    steps = math.ceil(d["input_bits"] / d["dac_bits"])
    conversions = steps * d["outputs"] * d["conversions_per_output"]
    cells = steps * d["rows"] * d["outputs"] * d["devices_per_weight"]
    row_drives = steps * d["rows"] * d["dac_bits"]
    s_cmos = cmos_energy_scale(d["node_nm"], d["vdd_v"])
    s_cell = cell_energy_scale(d["read_v"])
    bits = int(d["adc_bits"])
    energy = {
        "adc": conversions * adc_energy_pj(spec, bits) * adc_energy_scale * s_cmos,
        "arrays": cells * arr.energy_pj / a.rows * s_cell,
        "drivers": row_drives * drv.energy_pj * s_cmos,
        "shift_add": conversions * sa.energy_pj * s_cmos,
        "buffers": conversions * buf.energy_pj * s_cmos,
    }
    latency_ns = math.ceil(conversions / d["adcs"]) * bits * 1e3 / d["clock_mhz"]
    library_ns = math.ceil(conversions / d["adcs"]) * adc_time_ns(spec, bits) * d["node_nm"] / REF_NODE_NM
    s_area = area_scale(d["node_nm"]) * 1e-6  # um2 at 65 nm -> mm2 at the node
    ref_bits = adc.ref_bits or bits
    area = {
        "arrays": d["devices"] * arr.area_um2 / (a.rows * a.cols) * s_area,
        "adc": d["adcs"] * adc.area_um2 * bits / ref_bits * s_area,
        "drivers": d["rows"] * d["dac_bits"] * drv.area_um2 * s_area,
        "shift_add": d["adcs"] * sa.area_um2 * s_area,
        "buffers": d["adcs"] * buf.area_um2 / a.arrays * s_area,
    }
    return MacroCost(2.0 * d["rows"] * d["outputs"], energy, latency_ns, area, library_ns)


def fitted_parameters(spec: PimSpec, fits: Fits | None = None) -> dict[str, float]:
    """Solve each fitted parameter on its one figure (closed form: the energy is linear in the ADC scale)."""
    fits = fits if fits is not None else load_fits()
    out: dict[str, float] = {}
    for name, f in fits.fits.items():
        m = load_macro(f.macro)
        published = getattr(m.published, f.figure) if isinstance(m, AnalogMacro) else None
        if not isinstance(m, AnalogMacro) or published is None or f.figure != "tops_per_w":
            raise UserError(f"fits: fits.{name}: {f.macro} has no published {f.figure} an ADC scale can be fitted to")
        base = price(m, spec, 0.0)
        one = price(m, spec, 1.0)
        adc = one.energy_pj["adc"]
        k = (base.ops / published.value - base.total_pj) / adc
        if not k > 0:
            raise UserError(f"fits: fits.{name}: cannot fit {f.macro}'s {published.value:g} TOPS/W: the energy "
                            f"without ADCs ({base.total_pj:.4g} pJ) already exceeds the published "
                            f"{base.ops / published.value:.4g} pJ per MVM")
        out[name] = k
    return out


@dataclass(frozen=True)
class Row:
    """One figure of one macro: the model beside the published value."""

    macro: str
    figure: str
    unit: str
    model: float
    published: float | None
    status: str               # fitted | predicted | model (the reference design's value, not fitted to this one)
    source: str
    share: bool = False       # an energy share: the error is in percentage points
    condition: str = ""
    needed: str = ""          # for a missed figure: the parameter that would have to change, and by how much

    @property
    def missed(self) -> bool:
        """Outside the goal: 30 % on a figure, 10 percentage points on an energy share."""
        e = self.error
        return e is not None and abs(e) > (10.0 if self.share else MISS)

    @property
    def error(self) -> float | None:
        if self.published is None:
            return None
        return (self.model - self.published) * 100 if self.share else self.model / self.published - 1

    def error_text(self) -> str:
        e = self.error
        if e is None:
            return "-"
        return f"{e:+.1f} pp" if self.share else f"{e:+.0%}"


def _scale_needed(total: float, part: float, target: float) -> float | None:
    """The factor on ``part`` alone that brings ``total`` to ``target`` (None: no positive factor does)."""
    f = (target - (total - part)) / part if part > 0 else -1.0
    return f if f > 0 else None


def _needed(fig: str, m: AnalogMacro, cost: MacroCost, published: float) -> str:
    """The parameter that would have to change, and by how much, for the model to give ``published``."""
    if fig == "tops_per_w":
        target = cost.ops / published
        parts = []
        for cat, what in (("adc", "ADC energy"), ("arrays", "cell read energy"), ("drivers", "driver/DAC energy")):
            f = _scale_needed(cost.total_pj, cost.energy_pj[cat], target)
            parts.append(f"{what} x{f:.3g}" if f else f"no {what} alone")
        return "; ".join(parts)
    if fig == "mvm_latency_ns (library ADC rate)":
        return f"library conversion time x{published / cost.library_latency_ns:.3g} (sar_adc latency_ns, 1.28 GS/s)"
    if fig == "mvm_latency_ns":
        d = m.design
        per_adc = math.ceil(d.input_bits.value / d.dac_bits.value) * d.outputs.value * d.conversions_per_output.value
        cycles = published * d.clock_mhz.value * 1e-3 / math.ceil(per_adc / d.adcs.value)
        return f"{cycles:.3g} clock cycles per conversion (modelled {d.adc_bits.value:g}: one per ADC bit)"
    area = sum(cost.area_mm2.values())
    need = area * cost.tops_per_mm2 / published  # the area that gives the published TOPS/mm2 at the model's latency
    cells = cost.area_mm2["arrays"]
    f2 = 4.0 * (need - (area - cells)) / cells
    cells_text = f"all of it in the cells: {f2:.0f} F2 per device" if f2 > 0 else "less than the periphery alone"
    return f"macro area x{need / area:.3g} at the modelled latency ({cells_text})"


def _analog_rows(key: str, m: AnalogMacro, spec: PimSpec, params: dict[str, float], fits: Fits) -> list[Row]:
    k = params.get("adc_energy_scale", 1.0)
    cost = price(m, spec, k)
    fitted = {(f.macro, f.figure) for f in fits.fits.values()} if params else set()
    p, rows = m.published, []
    for fig, unit, model in (("tops_per_w", "TOPS/W", cost.tops_per_w),
                             ("mvm_latency_ns", "ns", cost.latency_ns),
                             ("mvm_latency_ns (library ADC rate)", "ns", cost.library_latency_ns),
                             ("tops_per_mm2", "TOPS/mm2", cost.tops_per_mm2)):
        pub = getattr(p, fig.split(" ")[0])
        row = Row(key, fig, unit, model, pub.value if pub else None,
                  "fitted" if (key, fig) in fitted else "predicted",
                  pub.source if pub else "not published", condition=p.condition)
        if row.missed:
            row = Row(**{**asdict(row), "needed": _needed(fig, m, cost, pub.value)})
        rows.append(row)
    for part, s in p.energy_split.items():
        rows.append(Row(key, f"energy share: {part}", "share", cost.share(s.model), s.share, "predicted",
                        f"{s.source}; model: {'+'.join(s.model)}", share=True, condition=p.condition))
    return rows


def _digital_rows(key: str, m: DigitalMacro, spec: PimSpec) -> list[Row]:
    """HyFlexPIM's NOR-PIM lane (its NOR step derived from the reference's 52.26 W per PU) beside the reference."""
    pim, d = spec.comp(spec.digital.pim), spec.digital
    steps_mult = d.mult_a * 64 + d.mult_b * 16 + d.mult_c  # the multiply part of mac_steps(8, 8)
    why = "HyFlexPIM's NOR step (library.yaml nor_pim_array, derived from 52.26 W per PU), not fitted to this design"
    rows = [Row(key, "energy per NOR gate", "fJ", pim.energy_pj * 1e3, m.gate_energy_fj.value, "model",
                f"{m.gate_energy_fj.source} | {why}"),
            Row(key, "latency per NOR gate", "ns", latency_ns(spec, d.pim), m.gate_latency_ns.value, "model",
                f"{m.gate_latency_ns.source} | library.yaml nor_pim_array latency (1 GHz)")]
    for algo, gates in m.multiply_gates_int8.items():
        rows.append(Row(key, f"gates per INT8 multiply ({algo})", "gates", steps_mult, gates.value, "model",
                        f"{gates.source} | hyflexpim.yaml digital.mult_a/b/c (13N^2-14N+6, Haj-Ali et al. 2018)"))
    ref = m.multiply_gates_int8.get("haj_ali_2018")
    if ref is not None:
        rows.append(Row(key, "energy per INT8 multiply (Haj-Ali, same gates)", "pJ", steps_mult * pim.energy_pj,
                        ref.value * m.gate_energy_fj.value * 1e-3, "model",
                        "derived: published gates x published gate energy"))
    rows.append(Row(key, "energy per INT8 MAC (918 steps, with the adder)", "pJ",
                    d.mac_steps(8, 8) * pim.energy_pj, None, "model", "no published INT8 MAC energy found"))
    return rows


def validate(macros: list[str] | None = None, fit: bool = True, spec: str | PimSpec = "hyflexpim") -> list[Row]:
    """Rows of the silicon table for ``macros`` (names or YAML files; default: every built-in macro)."""
    s = load_spec(spec) if isinstance(spec, str) else spec
    if not isinstance(s, PimSpec):
        raise UserError(f"spec '{spec}' is not a PIM chip spec: the silicon validation prices its component library")
    fits = load_fits()
    params = fitted_parameters(s, fits) if fit else {}
    rows: list[Row] = []
    for ref in macros or MACROS.names():
        m = load_macro(ref)
        key = Path(ref).stem if str(ref).endswith((".yaml", ".yml")) else str(ref)
        if isinstance(m, AnalogMacro):
            rows += _analog_rows(key, m, s, params, fits)
        else:
            rows += _digital_rows(key, m, s)
    return rows


def header_lines(fit: bool = True, spec: str = "hyflexpim") -> list[str]:
    """What was fitted to what, and the scaling rules, for the printed table."""
    s = load_spec(spec)
    lines = ["component library: library.yaml (65 nm; 1.0 V assumed); scaling: CMOS energy x (L/65nm)(V/1.0V)^2, "
             "area x (L/65nm)^2 (Dennard et al. 1974; Stillmaker & Baas 2017 find slower scaling below 45 nm), "
             "cell read energy x (V_read/1.0V)^2"]
    if fit:
        fits = load_fits()
        if not isinstance(s, PimSpec):
            raise UserError(f"spec '{spec}' is not a PIM chip spec: the silicon validation prices its component "
                            "library")
        values = fitted_parameters(s, fits)
        for name, f in fits.fits.items():
            value = values[name]
            lines.append(f"fitted: {name} = {value:.4g} to {f.macro} {f.figure} ({f.why}); every other figure "
                         "predicted")
    else:
        lines.append("fitted: none (--no-fit); every figure predicted from the library as it is")
    return lines


def table_lines(rows: list[Row]) -> list[str]:
    out = [f"{'macro':22s} {'figure':46s} {'model':>11s} {'published':>11s} {'error':>9s}  status"]
    for r in rows:
        pub = "-" if r.published is None else f"{r.published:.4g}"
        unit = "" if r.unit == "share" else f" {r.unit}"
        out.append(f"{r.macro:22s} {r.figure + unit:46s} {r.model:11.4g} {pub:>11s} {r.error_text():>9s}  {r.status}"
                   + ("  MISSED" if r.missed and r.status == "predicted" else ""))
    missed = [r for r in rows if r.needed]
    if missed:
        out.append("missed figures (> 30 %): what would have to change, each alone, relative to the model above")
        out += [f"  {r.macro} {r.figure}: {r.needed}" for r in missed]
    return out


def write(rows: list[Row], folder: Path, header: list[str]) -> list[Path]:
    """``silicon_validation.csv`` and ``.json`` in ``folder`` (atomic writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = ["macro", "figure", "unit", "model", "published", "error", "missed", "status", "needed", "condition",
              "source"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    records = []
    for r in rows:
        rec = {k: v for k, v in asdict(r).items() if k in fields}
        rec["error"] = r.error
        rec["missed"] = r.missed
        rec["unit"] = "pp" if r.share else r.unit
        w.writerow(rec)
        records.append(rec)
    csv_path = write_atomic(folder / "silicon_validation.csv", buf.getvalue())
    json_path = write_atomic(folder / "silicon_validation.json",
                             json.dumps({"notes": header, "rows": records}, indent=1))
    return [csv_path, json_path]


def run(macros: list[str] | None = None, fit: bool = True, out: Path | None = None,
        say: Callable[[str], None] = print) -> list[Row]:
    """Print the silicon table (and write it under ``out``); returns its rows."""
    rows = validate(macros, fit)
    header = header_lines(fit)
    for line in header + table_lines(rows):
        say(line)
    if out is not None:
        say("wrote " + ", ".join(str(p) for p in write(rows, Path(out), header)))
    return rows


__all__ = ["MacroCost", "Row", "area_scale", "cell_energy_scale", "cmos_energy_scale", "fitted_parameters", "price",
           "run", "validate", "write"]
