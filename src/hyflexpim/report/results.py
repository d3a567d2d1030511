"""Aggregate evaluation records into a results table and write it: mean and spread over noise seeds, the 95 %
paired-bootstrap interval over test examples × seeds, and each point's difference from the INT8 reference (the
main curve at 100 % SLC) with whether it is resolved (``report.confidence``)."""

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
    ("redistributed", "random"): "SVD + redistribution, random selection",
    ("svd", "grad_abs"): "SVD, no redistribution, gradient selection",
    ("svd", "grad_sq"): "SVD, no redistribution, gradient² selection",
    ("original", "magnitude"): "no SVD, magnitude selection (rows)",
}
COLUMNS = ["variant", "scorer", "policy", "slc_rate", "slc_weight_fraction", "encoding", "mlc_bits", "metric", "mean",
           "std", "n", "ci_low", "ci_high", "vs_int8", "vs_int8_low", "vs_int8_high", "vs_int8_resolved", "values"]
REFERENCE = ("redistributed", 100.0)  # INT8: every component in ideal SLC cells


def label(variant: str, scorer: str | None, policy: str | None = None, pretrained: bool = False) -> str:
    """A curve's name; a plan policy other than the paper's ``uniform`` is named too. ``pretrained``: the run did no
    fine-tuning before SVD (``pre_finetune: null``, the decoder default), so its FP32 line is the pretrained model."""
    if scorer is None:
        fp32 = "FP32 pretrained (clean)" if pretrained else "FP32 fine-tuned (clean)"
        return {"fp32": fp32, "redistributed": "SVD + redistribution (float, clean)"}.get(variant, variant)
    name = LABELS.get((variant, scorer), f"{variant}, {scorer}")
    return name + (f", {policy} policy" if policy not in (None, "uniform") else "")


def summarize(records: list[dict], scorer: str | None = None) -> list[dict]:
    """One row per (variant, scorer, policy, SLC rate). ``scorer``: the main curve's, whose 100 % point is the INT8
    reference every other point is compared with (default: the first redistributed curve with a 100 % point)."""
    from hyflexpim.report.confidence import difference, interval, point

    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["variant"], r["scorer"], r["policy"], r["slc_rate"]), []).append(r)
    refs = [k for k in groups if (k[0], k[3]) == REFERENCE and (scorer is None or k[1] == scorer)]
    ref = point(groups[refs[0]]) if refs else None
    rows = []
    for key, recs in groups.items():
        variant, scorer_, policy, rate = key
        values = [r["value"] for r in recs]
        row = {
            "variant": variant, "scorer": scorer_, "policy": policy, "slc_rate": rate,
            "slc_weight_fraction": recs[0]["slc_weight_fraction"], "encoding": recs[0].get("encoding"),
            "mlc_bits": recs[0].get("mlc_bits"), "metric": recs[0]["metric"],
            "mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "ci_low": None, "ci_high": None, "vs_int8": None, "vs_int8_low": None,
            "vs_int8_high": None, "vs_int8_resolved": None, "values": values,
        }
        p = point(recs)
        if p is not None:
            row["ci_low"], row["ci_high"] = interval(p)
            d = difference(p, ref) if ref is not None and rate is not None and key != refs[0] else None
            if d is not None:
                row.update(vs_int8=d["diff"], vs_int8_low=d["ci_low"], vs_int8_high=d["ci_high"],
                           vs_int8_resolved=d["resolved"])
        rows.append(row)
    return rows


def compare_curves(records: list[dict], a: tuple, b: tuple) -> list[dict]:
    """Curve ``a`` − curve ``b`` — each (variant, scorer) or (variant, scorer, policy) — at every SLC rate both
    measured: the paired difference of the means, its 95 % interval and whether it is resolved (e.g. gradient vs
    singular-value selection)."""
    from hyflexpim.report.confidence import difference, point

    def by_rate(curve):
        out: dict[float, list[dict]] = {}
        for r in records:
            if (r["variant"], r["scorer"], r["policy"])[:len(curve)] == tuple(curve) and r["slc_rate"] is not None:
                out.setdefault(r["slc_rate"], []).append(r)
        return out

    ra, rb = by_rate(a), by_rate(b)
    rows = []
    for rate in sorted(set(ra) & set(rb)):
        pa, pb = point(ra[rate]), point(rb[rate])
        d = difference(pa, pb) if pa is not None and pb is not None else None
        if d is not None:
            rows.append({"a": label(*a), "b": label(*b), "slc_rate": rate, "seeds": len(ra[rate]), **d})
    return rows


def terminal_line(variant: str, scorer: str, rate: float, recs: list[dict]) -> str:
    values = [r["value"] for r in recs]
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    from hyflexpim.report.confidence import interval, point

    p = point(recs)
    ci = " [95 % CI {:.4f}–{:.4f}]".format(*interval(p)) if p is not None else ""
    return (f"SLC {rate:5.1f}%  {recs[0]['metric']} {mean:.4f} ± {std:.4f}{ci}  "
            f"({label(variant, scorer, recs[0].get('policy'))}, {len(values)} seeds)")


def write_results(out: Path, rows: list[dict], suffix: str = "") -> list[Path]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow({**r, "values": " ".join(f"{v:.6g}" for v in r["values"])})
    return [write_atomic(out / f"results{suffix}.csv", buf.getvalue()),
            write_atomic(out / f"results{suffix}.json", json.dumps(rows, indent=1))]


DIFF_COLUMNS = ["a", "b", "slc_rate", "seeds", "diff", "ci_low", "ci_high", "resolved", "paired_seeds"]


def write_differences(out: Path, rows: list[dict], suffix: str = "") -> list[Path]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=DIFF_COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return [write_atomic(out / f"differences{suffix}.csv", buf.getvalue()),
            write_atomic(out / f"differences{suffix}.json", json.dumps(rows, indent=1))]
