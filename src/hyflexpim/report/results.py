"""Aggregate evaluation records into a results table and write it: mean and spread over noise seeds, the 95 %
paired-bootstrap interval over test examples × seeds, and each point's difference from the INT8 reference (the
main curve at 100 % SLC) with whether it is resolved (``report.confidence``)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import read_text
from hyflexpim.errors import UserError
from hyflexpim.report.confidence import difference, has_examples, interval, point, unpack_correct

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
    text = json.dumps(rows, indent=1)
    return write_set(out, lambda tmp: [write_atomic(tmp / f"results{suffix}.csv", buf.getvalue()),
                                       write_atomic(tmp / f"results{suffix}.json", text)])


def write_set(out: Path, write) -> list[Path]:
    """A set of result files written all or nothing: ``write(folder)`` writes every file into a hidden folder
    beside them, and only when all are there are they moved into ``out`` (a full disk or a crash part-way leaves
    the earlier set, or nothing — never a table without its JSON or figures). Returns the paths in ``out``."""
    out = Path(out)
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".partial-"))
    except OSError as e:
        raise UserError(f"cannot write into {out}: {e.strerror or e}") from None
    try:
        written = [Path(p) for p in write(tmp)]
        final = []
        for p in written:
            os.replace(p, out / p.relative_to(tmp))
            final.append(out / p.relative_to(tmp))
        return final
    except BaseException:
        if made:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


DIFF_COLUMNS = ["a", "b", "slc_rate", "seeds", "diff", "ci_low", "ci_high", "resolved", "paired_seeds"]


def write_differences(out: Path, rows: list[dict], suffix: str = "") -> list[Path]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=DIFF_COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return [write_atomic(out / f"differences{suffix}.csv", buf.getvalue()),
            write_atomic(out / f"differences{suffix}.json", json.dumps(rows, indent=1))]


# -- records and tables read back: what they say is checked against what they hold --------------------------------
METRIC_RANGES = {"accuracy": (0.0, 1.0), "perplexity": (1.0, math.inf)}


def record_problem(rec) -> str | None:
    """Why an evaluation record read back (``evaluations.jsonl``) cannot be trusted, or None: its key must match
    its fields, its metric be known and its value finite and in the metric's range, and a value stored beside the
    per-example outcomes must be the one those outcomes give (a hand-edited accuracy is caught)."""
    if not isinstance(rec, dict) or not isinstance(rec.get("key"), str):
        return "not an evaluation record"
    parts = rec["key"].split("/")
    if parts[0] != rec.get("variant"):
        return f"its key names variant {parts[0]!r}, its content {rec.get('variant')!r}"
    if len(parts) == 2 and parts[1] == "clean":
        if rec.get("scorer") is not None or rec.get("slc_rate") is not None:
            return "a clean record with a scorer or an SLC rate"
    elif len(parts) == 6:
        rate = rec.get("slc_rate")
        fields = [rec.get("scorer"), rec.get("policy"), f"{rate:g}" if _number(rate) else rate, str(rec.get("seed"))]
        for name, want, got in zip(("scorer", "policy", "slc_rate", "seed"), parts[1:5], fields):
            if want != got:
                return f"its key says {name} {want!r}, its content {got!r}"
    else:
        return f"key {rec['key']!r} is not one hyflexpim writes"
    metric, value = rec.get("metric"), rec.get("value")
    if metric not in METRIC_RANGES:
        return f"unknown metric {metric!r}"
    low, high = METRIC_RANGES[metric]
    if not _number(value) or not math.isfinite(value) or not low <= value <= high:
        return f"{metric} {value!r} is not a finite {metric} in {low:g}..{high:g}"
    own = outcome_value(rec)
    if own is not None and math.isnan(own):
        return "its per-example outcomes do not decode"
    if own is not None and not math.isclose(own, value, rel_tol=1e-6, abs_tol=1e-9):
        return f"its {metric} {value:.6g} is not the {own:.6g} its own per-example outcomes give"
    return None


def outcome_value(rec: dict) -> float | None:
    """The metric recomputed from a record's per-example outcomes (None when it holds none)."""
    if not has_examples(rec):
        return None
    try:
        if "correct" in rec:
            n = rec["n_examples"]
            ok = isinstance(n, int) and not isinstance(n, bool) and n >= 0 and isinstance(rec["correct"], str)
            bits = unpack_correct(rec["correct"], n) if ok else None
            if bits is None or len(bits) != n:
                return math.nan
            return float(bits.mean()) if n else 0.0
        tokens = sum(int(t) for t in rec["tokens"])
        return math.exp(sum(float(v) for v in rec["nll"]) / max(tokens, 1))
    except (TypeError, ValueError, OverflowError, KeyError):
        return math.nan  # outcomes that do not decode: the record is refused


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_results_csv(path: Path) -> list[dict]:
    """The rows of a ``results*.csv`` written by ``write_results``, checked before a page is made of them: the
    header, every number finite, each mean inside its own interval, an accuracy in 0..1; else one line naming the
    row."""
    text = read_text(path, "results table")
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as e:  # a field over the csv module's limit, a NUL
        raise UserError(f"results table {path} is not a CSV file hyflexpim wrote ({e})") from None
    need = {"variant", "scorer", "slc_rate", "metric", "mean", "std", "n", "ci_low", "ci_high"}
    header = set(rows[0]) if rows else set()
    if not rows or not need <= header:
        raise UserError(f"results table {path} is not a results.csv written by hyflexpim run (it needs the columns "
                        f"{', '.join(sorted(need))} and at least one row)")
    for i, row in enumerate(rows, start=2):
        check_result_row(row, f"results table {path} line {i}")
    return rows


def check_result_row(row: dict, where: str) -> None:
    """One row of a results table (CSV text or JSON numbers): every number finite, the mean in its metric's range
    and, for an accuracy, inside its own 95 % interval; else one line naming ``where``."""
    nums = {}
    for col in ("slc_rate", "mean", "std", "n", "ci_low", "ci_high"):
        cell = row.get(col)
        cell = cell.strip() if isinstance(cell, str) else cell
        if cell in ("", None) and col != "mean":  # a clean row has no SLC rate; old rows may lack an interval
            nums[col] = None
            continue
        try:
            if isinstance(cell, bool):
                raise ValueError
            nums[col] = float(cell)
        except (TypeError, ValueError):
            raise UserError(f"{where}: {col} {str(cell)[:40]!r} is not a number") from None
        if not math.isfinite(nums[col]):
            raise UserError(f"{where}: {col} {str(cell)[:40]!r} is not a finite number")
    metric = row.get("metric")
    low, high = METRIC_RANGES.get(metric, (None, None)) if isinstance(metric, str) else (None, None)
    if low is None:
        raise UserError(f"{where}: unknown metric {row.get('metric')!r} (accuracy or perplexity)")
    if not low <= nums["mean"] <= high:
        raise UserError(f"{where}: {row['metric']} {nums['mean']:g} is outside {low:g}..{high:g}")
    # accuracy: the mean over seeds is the pooled share its interval is drawn around (a perplexity's mean over seeds
    # is not, by Jensen's inequality)
    if row["metric"] == "accuracy" and nums["ci_low"] is not None and nums["ci_high"] is not None and not (
            nums["ci_low"] - 1e-9 <= nums["mean"] <= nums["ci_high"] + 1e-9):
        raise UserError(f"{where}: the mean {nums['mean']:g} is outside its own 95 % interval "
                        f"[{nums['ci_low']:g}, {nums['ci_high']:g}]: the table was edited or is corrupted")


HW_NUMBERS = ("slc_rate", "seq_len", "throughput_tok_s", "tops_per_w", "energy_per_inference_j", "area_mm2")


def check_hw_csv(path: Path) -> None:
    """A ``hw_results.csv`` of the chip model, checked before a page is made of it: the columns ``write_table``
    writes, and its throughput, energy, area, length and SLC rate finite and not negative; else one line."""
    try:
        rows = list(csv.DictReader(io.StringIO(read_text(path, "chip results table"))))
    except csv.Error as e:
        raise UserError(f"chip results table {path} is not a CSV file hyflexpim wrote ({e})") from None
    need = {"design", "spec", *HW_NUMBERS}
    if not rows or not need <= set(rows[0]):
        raise UserError(f"chip results table {path} is not a hw_results.csv written by hyflexpim (it needs the columns "
                        f"{', '.join(sorted(need))} and at least one row)")
    for i, row in enumerate(rows, start=2):
        for col in HW_NUMBERS:
            cell = (row.get(col) or "").strip()
            try:
                ok = math.isfinite(float(cell)) and float(cell) >= 0
            except ValueError:
                ok = False
            if not ok:
                raise UserError(f"chip results table {path} line {i}: {col} {cell[:40]!r} is not a finite number >= 0")
