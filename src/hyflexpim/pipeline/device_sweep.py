"""The device-requirement map: how good must the MLC cells be for a given SLC rate to stay within a tolerance of INT8.

For a finished run (its redistributed model, importance and plans), every MLC quality on a log grid — the levels
model's MLC level error rate at its calibration time, the levels model's MLC programming σ in µS (the device
engineer's own number; a given σ replaces the calibration, read noise stays), or the paper model's relative σ of
an MLC slice — is
evaluated at every SLC rate over the run's noise seeds, on the same test examples. The INT8 reference is the
plan at 100 % SLC with no noise at all (quantization and slicing only). For each SLC rate the answer is the
largest grid value at which the accuracy, and at every better device on the grid, stays within ``tolerance`` of
INT8: once by the point estimate, once by the 95 % paired-bootstrap interval's lower end (the conservative
answer: 95 % sure the loss is under the tolerance). Everything else of the run's hardware (encoding, MLC bits,
drift time, the levels model's other settings) stays as the run has it.

    sweep_device(run, "levels", [1e-4, 1e-3, 1e-2], [0, 10, 100])  ->  device/device_map-levels.{csv,json,png}
"""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import NamedTuple

from hyflexpim.atomic import write_atomic
from hyflexpim.config import validate
from hyflexpim.errors import UserError
from hyflexpim.report.confidence import difference, interval, point
from hyflexpim.report.plots import plot_device_map


class Axis(NamedTuple):
    """One MLC quality axis: the noise kind it sets, the field (dotted for a cell type's), what it means, a default
    log grid, the upper bound of a value, and the fields it replaces (a given σ replaces the calibrated error rate)."""

    kind: str
    field: str
    meaning: str
    grid: list[float]
    upper: float
    clears: tuple[str, ...] = ()
    also: dict | None = None  # other noise fields the axis sets


# the MLC quality axes; the name is what --noise takes
AXES = {
    "levels": Axis("levels", "mlc.error_rate", "MLC level error rate",
                   [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 0.0404], 0.5, ("sigma_us",)),
    # one σ for every level (flat profile), so that SLC cells of the same device get the same σ in µS
    # (slc_rule same_device; their wider level spacing makes them misread less)
    "levels-sigma": Axis("levels", "mlc.sigma_us", "MLC programming σ at 1 s (µS)",
                         [0.1, 0.3, 1.0, 3.0, 10.0], 1e3, ("error_rate",), {"sigma_profile": "flat"}),
    "paper": Axis("paper", "sigma_mlc", "relative σ of an MLC slice", [0.0025, 0.005, 0.01, 0.025, 0.05], 10.0),
}


def _noise(base, axis: str, value) -> dict:
    """The run's noise settings with the MLC quality set to ``value`` (another kind starts from its defaults)."""
    a = AXES[axis]
    data = base.noise.model_dump(mode="json") if base.noise.kind == a.kind else {"kind": a.kind}
    if "." in a.field:
        part, leaf = a.field.split(".")
        data[part] = {**(data.get(part) or {}), leaf: value, **dict.fromkeys(a.clears)}
    else:
        data[a.field] = value
    return data | (a.also or {})


def _hardware(base, noise: dict):
    # lazy: sim.config imports torch, which the rest of this module (reading a sweep's tables) does not need
    from hyflexpim.sim.config import HardwareConfig

    return validate(HardwareConfig, base.model_dump(mode="json", exclude={"noise"}) | {"noise": noise},
                    "sweep-device hardware").resolved("sweep-device hardware")


def _run_with(run, hardware):
    """The same run folder, models and task with another hardware (its evaluations are keyed by the hardware)."""
    run.check_keys()  # with the run's own settings (a noise-aware model's key names its hardware)
    twin = copy.copy(run)
    twin.config = run.config.model_copy(update={"hardware": hardware})
    return twin


def check_grid(axis: str, grid: list[float]) -> list[float]:
    if axis not in AXES:
        raise UserError(f"--noise must be one of {', '.join(AXES)}, got {axis!r}")
    a = AXES[axis]
    bad = [g for g in grid if not 0 < g < a.upper]
    if not grid or bad:
        raise UserError(f"--grid: each {a.meaning} must be in (0, {a.upper:g}), got {bad or 'nothing'}")
    return sorted(set(grid))


def requirement(rows: list[dict], tolerance: float) -> dict:
    """Per SLC rate: the largest grid value at which this and every better device stay within ``tolerance``."""
    out = {}
    for rate in sorted({r["slc_rate"] for r in rows}):
        curve = sorted((r for r in rows if r["slc_rate"] == rate), key=lambda r: r["value"])
        point = conservative = None
        ok_point = ok_ci = True
        for r in curve:
            ok_point = ok_point and r["vs_int8"] >= -tolerance
            ok_ci = ok_ci and r["vs_int8_low"] is not None and r["vs_int8_low"] >= -tolerance
            point = r["value"] if ok_point else point
            conservative = r["value"] if ok_ci else conservative
        out[f"{rate:g}"] = {"point": point, "ci": conservative}
    return out


def sweep_device(run, axis: str, grid: list[float], rates: list[float], tolerance: float = 0.01,
                 name: str | None = None) -> list:
    """Evaluate the run's plans over the grid; writes ``device/device_map-<name or axis>.*`` and returns the files."""
    from hyflexpim.pipeline.evaluate_step import evaluate_plan  # lazy: torch, as HardwareConfig in _hardware

    grid = check_grid(axis, grid)
    a = AXES[axis]
    base = run.config.hardware
    scorer = run.config.importance.scorer
    int8_hw = _hardware(base, {"kind": "paper", "sigma_mlc": 0.0, "sigma_slc": 0.0})
    ref_recs = evaluate_plan(_run_with(run, int8_hw), "redistributed", scorer, 100.0)
    ref = point(ref_recs)
    int8 = ref_recs[0]["value"]
    run.say(f"INT8 reference (100 % SLC, no noise): {int8:.4f}")
    rows = []
    for value in grid:
        twin = _run_with(run, _hardware(base, _noise(base, axis, value)))
        for rate in rates:
            recs = evaluate_plan(twin, "redistributed", scorer, rate)
            p = point(recs)
            lo, hi = interval(p) if p is not None else (None, None)
            d = difference(p, ref) if p is not None and ref is not None else None
            mean = sum(r["value"] for r in recs) / len(recs)
            rows.append({"noise": a.kind, "axis": a.field, "value": value, "slc_rate": rate, "mean": mean,
                         "ci_low": lo, "ci_high": hi, "int8": int8, "vs_int8": mean - int8,
                         "vs_int8_low": d and d["ci_low"], "vs_int8_high": d and d["ci_high"], "seeds": len(recs)})
            run.say(f"{a.meaning} {value:g}, SLC {rate:g}%: accuracy {mean:.4f} ({mean - int8:+.4f} vs INT8)")
    need = requirement(rows, tolerance)
    folder = run.ws.root / "device"
    folder.mkdir(exist_ok=True)
    stem = folder / f"device_map-{name or axis}"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    c = run.config
    title = (f"{c.model} on {c.task}, {base.encoding or 'spec'} encoding, {len(c.noise_seeds)} seeds: "
             f"within {100 * tolerance:g} pt of INT8 ({100 * int8:.1f} %)")
    summary = {"noise": a.kind, "noise_settings": _noise(base, axis, 0.0) | {a.field: "swept"},
               "axis": a.field, "meaning": a.meaning, "tolerance": tolerance, "int8": int8,
               "requirement": need}
    files = [write_atomic(stem.with_suffix(".csv"), buf.getvalue()),
             write_atomic(stem.with_suffix(".json"), json.dumps({**summary, "rows": rows}, indent=1)),
             plot_device_map(rows, need, a.meaning, tolerance, stem.with_suffix(".png"), title)]
    for rate, n in need.items():
        run.say(f"SLC {rate}%: stays within {100 * tolerance:g} pt of INT8 up to {a.meaning} "
                f"{_fmt(n['point'])} (95 % sure: {_fmt(n['ci'])})")
    return files


def _fmt(v) -> str:
    return "none on the grid" if v is None else f"{v:g}"


__all__ = ["AXES", "Axis", "requirement", "sweep_device"]
