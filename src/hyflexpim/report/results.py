"""Aggregate evaluation records into a results table (mean and spread over noise seeds) and write it."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

from hyflexpim.atomic import write_atomic

LABELS = {
    ("redistributed", "grad_abs"): "SVD + redistribution, gradient selection",
    ("redistributed", "grad_sq"): "SVD + redistribution, gradient² selection",
    ("redistributed", "singular_value"): "SVD + redistribution, singular-value selection",
    ("svd", "grad_abs"): "SVD, no redistribution, gradient selection",
    ("svd", "grad_sq"): "SVD, no redistribution, gradient² selection",
    ("original", "magnitude"): "no SVD, magnitude selection (rows)",
}
COLUMNS = ["variant", "scorer", "policy", "slc_rate", "slc_weight_fraction", "encoding", "mlc_bits", "metric", "mean",
           "std", "n", "values"]


def label(variant: str, scorer: str | None) -> str:
    if scorer is None:
        return {"fp32": "FP32 fine-tuned (clean)", "redistributed": "SVD + redistribution (float, clean)"}.get(variant, variant)
    return LABELS.get((variant, scorer), f"{variant}, {scorer}")


def summarize(records: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["variant"], r["scorer"], r["policy"], r["slc_rate"]), []).append(r)
    rows = []
    for (variant, scorer, policy, rate), recs in groups.items():
        values = [r["value"] for r in recs]
        rows.append({
            "variant": variant, "scorer": scorer, "policy": policy, "slc_rate": rate,
            "slc_weight_fraction": recs[0]["slc_weight_fraction"], "encoding": recs[0].get("encoding"),
            "mlc_bits": recs[0].get("mlc_bits"), "metric": recs[0]["metric"],
            "mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values,
        })
    return rows


def terminal_line(variant: str, scorer: str, rate: float, recs: list[dict]) -> str:
    values = [r["value"] for r in recs]
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"SLC {rate:5.1f}%  {recs[0]['metric']} {mean:.4f} ± {std:.4f}  ({label(variant, scorer)}, {len(values)} seeds)"


def write_results(out: Path, rows: list[dict], suffix: str = "") -> list[Path]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow({**r, "values": " ".join(f"{v:.6g}" for v in r["values"])})
    return [write_atomic(out / f"results{suffix}.csv", buf.getvalue()),
            write_atomic(out / f"results{suffix}.json", json.dumps(rows, indent=1))]
