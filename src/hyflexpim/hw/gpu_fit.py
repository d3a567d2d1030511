"""Fit the GPU kernel model (``hyflexpim.hw.gpu``) to measured latencies and report its predictions.

``python -m hyflexpim.hw.gpu_fit``          the calibration table: fitted rows, predicted rows, per-row error
``python -m hyflexpim.hw.gpu_fit --write``  re-fit and write ``gemm_efficiency``, ``kernel_us`` and their
                                             ranges into ``chip/specs/gpu_a100.yaml`` (``tests/test_hw_gpu.py``
                                             checks that the YAML equals a re-fit)

The data: ``hw/data/tensorrt_bert_a100.csv`` (NVIDIA TensorRT demo/BERT, A100-40GB, INT8, average latency; its
header names the commit and the settings). The two free parameters are fitted on the rows marked ``fit`` only
(BERT-Base and BERT-Large, L = 128, batch 1 and 128) by least squares on log latency: a grid over both, zoomed
in around the best point (no scipy). Their ranges in the spec are the values fitted to BERT-Base's two points
alone and to BERT-Large's alone.
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hyflexpim.chip.spec import SPEC_DIR, GpuSpec, load_spec
from hyflexpim.hw.gpu import kernel_times, kernels
from hyflexpim.hw.shapes import get_shape, head_matrices
from hyflexpim.plan import Architecture

DATA = "tensorrt_bert_a100.csv"
SPEC = "gpu_a100"
PARAMS = ("gemm_efficiency", "kernel_us")
# stated tolerance of the median |error| of the predicted rows, per sequence length (tests/test_hw_gpu.py): the
# issue's goal for the L = 128 rows; the same bound for the L = 384 rows, which are further from the fit points
TOLERANCE = {128: 0.25, 384: 0.25}


@dataclass(frozen=True)
class Point:
    model: str
    seq_len: int
    batch: int
    ms: float
    fit: bool


def _gpu_spec() -> GpuSpec:
    spec = load_spec(SPEC)
    assert isinstance(spec, GpuSpec), f"{SPEC} is a GPU spec"
    return spec


def load_points(path: str | Path | None = None) -> list[Point]:
    text = (Path(path).read_text() if path is not None
            else (resources.files("hyflexpim.hw") / "data" / DATA).read_text())
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return [Point(r["model"], int(r["seq_len"]), int(r["batch"]), float(r["int8_avg_ms"]), r["fit"] == "1")
            for r in rows]


def _matrices(model: str) -> tuple[Architecture, list[tuple[str, int, int, Any]]]:
    arch = get_shape(model)
    mats: list[tuple[str, int, int, Any]] = [(role, d_out, d_in, layer)
                                             for _, role, layer, (d_out, d_in) in arch.matrices()]
    return arch, mats + [("head", o, i, None) for _, (o, i) in head_matrices(arch)]


Work = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _work(spec: GpuSpec, points: list[Point]) -> Work:
    """(MACs, bytes, launches) arrays per point, for fast evaluation over many parameter values."""
    out = []
    for p in points:
        arch, mats = _matrices(p.model)
        ks = kernels(spec, arch, mats, float(p.seq_len), p.batch, 0)
        out.append((np.array([float(np.sum(k.macs)) for k in ks]), np.array([float(np.sum(k.bytes)) for k in ks]),
                    np.array([k.launches for k in ks])))
    return out


def _latency_grid(spec: GpuSpec, work: Work, eff: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Latency (s) of each point for every (eff, us) pair: shape (points, len(eff), len(us))."""
    rate, bw = spec.peak_tmacs * 1e12, spec.mem_gbps * 1e9
    out = []
    for macs, byt, n in work:
        busy = (n[:, None] * np.maximum(macs[:, None] / (rate * eff[None, :]), (byt / bw)[:, None])).sum(0)
        out.append(busy[:, None] + n.sum() * us[None, :] * 1e-6)
    return np.array(out)


def fit(spec: GpuSpec | None = None, points: list[Point] | None = None) -> dict[str, float]:
    """Least squares on log latency over the ``fit`` rows: {gemm_efficiency, kernel_us, rms_log_error}."""
    spec = spec or _gpu_spec()
    pts = [p for p in (points if points is not None else load_points()) if p.fit]
    work = _work(spec, pts)
    meas = np.log(np.array([p.ms * 1e-3 for p in pts]))[:, None, None]
    lo, hi = np.array([0.01, 0.0]), np.array([1.0, 50.0])
    best = (0.0, 0.0, 0.0)
    for _ in range(8):  # grid, then zoom in around the best point
        eff, us = np.linspace(lo[0], hi[0], 121), np.linspace(lo[1], hi[1], 121)
        err = ((np.log(_latency_grid(spec, work, eff, us)) - meas) ** 2).sum(0)
        i, j = np.unravel_index(int(np.argmin(err)), err.shape)
        best = (float(eff[i]), float(us[j]), float(np.sqrt(err[i, j] / len(pts))))
        span = (hi - lo) / 10
        lo = np.maximum([0.001, 0.0], [best[0] - span[0], best[1] - span[1]])
        hi = np.minimum([1.0, 200.0], [best[0] + span[0], best[1] + span[1]])
    return {"gemm_efficiency": best[0], "kernel_us": best[1], "rms_log_error": best[2]}


def fit_ranges(spec: GpuSpec | None = None, points: list[Point] | None = None) -> dict[str, tuple[float, float]]:
    """Each parameter fitted to one model's two fit points alone: the spread gives its range."""
    pts = points if points is not None else load_points()
    fits = [fit(spec, [p for p in pts if p.model == m]) for m in sorted({p.model for p in pts if p.fit})]
    return {k: (min(f[k] for f in fits), max(f[k] for f in fits)) for k in PARAMS}


@dataclass(frozen=True)
class FitRow:
    """One row of the calibration table: the published point, the model's latency (ms), its relative error
    (model / measured - 1) and the share of the latency that is per-kernel cost."""

    point: Point
    model_ms: float
    error: float
    overhead_share: float


def table(spec: GpuSpec | None = None, points: list[Point] | None = None) -> list[FitRow]:
    """Every row with the model's latency and its relative error (model / measured - 1)."""
    spec = spec or _gpu_spec()
    rows: list[FitRow] = []
    for p in (points if points is not None else load_points()):
        arch, mats = _matrices(p.model)
        busy, over, _ = kernel_times(kernels(spec, arch, mats, float(p.seq_len), p.batch, 0), spec)
        ms = float(busy.sum() + over.sum()) * 1e3
        rows.append(FitRow(p, ms, ms / p.ms - 1, float(over.sum() / (busy.sum() + over.sum()))))
    return rows


def median_error(rows: list[FitRow], seq_len: int | None = None) -> float:
    """Median absolute relative error of the predicted (not fitted) rows, optionally of one length."""
    errs = [abs(r.error) for r in rows if not r.point.fit and (seq_len is None or r.point.seq_len == seq_len)]
    return float(np.median(errs))


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def write_yaml(path: Path | None = None) -> dict[str, float]:
    """Re-fit and write the fitted values and ranges into the spec YAML, keeping its comments."""
    path = path or SPEC_DIR / f"{SPEC}.yaml"
    f, rng = fit(), fit_ranges()
    text = path.read_text()
    text = re.sub(r"(?m)^gemm_efficiency: *[0-9.]+", f"gemm_efficiency: {_fmt(f['gemm_efficiency'], 4)}", text)
    text = re.sub(r"(?m)^kernel_us: *[0-9.]+", f"kernel_us: {_fmt(f['kernel_us'], 3)}", text)
    for k in PARAMS:
        d = 4 if k == "gemm_efficiency" else 3
        text = re.sub(rf"(?m)^  {k}: *\[[^\]]*\]", f"  {k}: [{_fmt(rng[k][0], d)}, {_fmt(rng[k][1], d)}]", text)
    path.write_text(text)
    return f


def report(spec: GpuSpec | None = None) -> None:
    spec = spec or _gpu_spec()
    rows = table(spec)
    print(f"{spec.name}: gemm_efficiency {spec.gemm_efficiency:.4f}, kernel_us {spec.kernel_us:.3f} "
          f"({spec.calibration})")
    print("| model | L | batch | measured ms | model ms | error | kernel-overhead share | row |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = r.point
        print(f"| {p.model} | {p.seq_len} | {p.batch} | {p.ms:.2f} | {r.model_ms:.2f} | {r.error:+.1%} | "
              f"{r.overhead_share:.0%} | {'fitted' if p.fit else 'predicted'} |")
    print(f"median |error| of predicted rows: L=128 {median_error(rows, 128):.1%} (goal <= 25 %), "
          f"L=384 {median_error(rows, 384):.1%} (tolerance {TOLERANCE[384]:.0%}), all {median_error(rows):.1%}")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        f = write_yaml()
        print(f"wrote {SPEC}.yaml: gemm_efficiency {f['gemm_efficiency']:.4f}, kernel_us {f['kernel_us']:.3f} "
              f"(rms log error {f['rms_log_error']:.3f})")
    report(_gpu_spec())
