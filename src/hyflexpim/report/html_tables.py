"""The tables of the HTML report, each from a file the run wrote: results.csv, differences.csv, a plan's matrices,
hw_results.csv, and any CSV as it is. Every number keeps its exact text in the cell's ``data-value``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hyflexpim.artefacts import RunFolder
from hyflexpim.boundary import read_text
from hyflexpim.plan import load_plan
from hyflexpim.report.html_page import cell, table
from hyflexpim.report.results import label

# results.csv columns shown, with how they are printed (the metric columns scale by 100 for accuracy)
METRIC_COLUMNS = ("mean", "std", "ci_low", "ci_high", "vs_int8", "vs_int8_low", "vs_int8_high")
HW_COLUMNS = ("design", "mode", "slc_rate", "slc_weight_fraction", "seq_len", "throughput_tok_s", "tops_per_w",
              "throughput_vs_all_slc", "efficiency_vs_all_slc", "energy_per_token_j", "area_mm2")


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(read_text(path, "results table"))))


def number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "None") else None
    except ValueError:
        return None


def metric_text(value: float | None, metric: str) -> str:
    """How a metric column prints: accuracy in % with two decimals, anything else with four significant digits."""
    if value is None:
        return ""
    return f"{100 * value:.2f}" if metric == "accuracy" else f"{value:.4g}"


def results_table(rows: list[dict]) -> str:
    """results.csv as a table: one row per curve point, the metric columns in % for accuracy."""
    if not rows:
        return ""
    metric = rows[0]["metric"]
    unit = " (%)" if metric == "accuracy" else ""
    columns = ["curve", "policy", "SLC rate (%)", "SLC share of weights (%)", "encoding", f"{metric}{unit}",
               f"± std{unit}", "n seeds", f"95 % CI low{unit}", f"95 % CI high{unit}", f"vs INT8{unit}",
               f"vs INT8 low{unit}", f"vs INT8 high{unit}", "resolved"]
    body = []
    for r in rows:
        frac = number(r["slc_weight_fraction"])
        line = [cell(label(r["variant"], r["scorer"] or None, r["policy"] or None), text=True),
                cell(r["policy"], text=True),
                cell(r["slc_rate"], f"{number(r['slc_rate']):g}" if number(r["slc_rate"]) is not None else "clean"),
                cell(r["slc_weight_fraction"], f"{100 * frac:.1f}" if frac is not None else ""),
                cell(r["encoding"], text=True)]
        for c in METRIC_COLUMNS[:2]:
            line.append(cell(r[c], metric_text(number(r[c]), metric)))
        line.append(cell(r["n"], r["n"]))
        for c in METRIC_COLUMNS[2:]:
            line.append(cell(r[c], metric_text(number(r[c]), metric)))
        resolved = r["vs_int8_resolved"]
        line.append(cell(resolved, {"True": "yes", "False": "no"}.get(resolved, ""), text=True,
                         cls="yes" if resolved == "True" else ""))
        body.append(line)
    return table(columns, body, "Mean over noise seeds; 95 % intervals from a paired bootstrap over test examples × "
                                "seeds; 'vs INT8' is the paired difference from the main curve at 100 % SLC, "
                                "'resolved' when its interval excludes zero.")


def differences_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    body = [[cell(r["a"], text=True), cell(r["b"], text=True), cell(r["slc_rate"], f"{float(r['slc_rate']):g}"),
             cell(r["diff"], f"{100 * float(r['diff']):+.2f}"), cell(r["ci_low"], f"{100 * float(r['ci_low']):+.2f}"),
             cell(r["ci_high"], f"{100 * float(r['ci_high']):+.2f}"),
             cell(r["resolved"], "yes" if r["resolved"] == "True" else "no", text=True,
                  cls="yes" if r["resolved"] == "True" else "")] for r in rows]
    return table(["curve a", "minus curve b", "SLC rate (%)", "a − b (points)", "95 % CI low", "95 % CI high",
                  "resolved"], body, "Paired differences at the same SLC rate (test examples × noise seeds).")


def matrices_table(folder: Path) -> str:
    """The model's matrices from one of the run's plans: where each lives, its rank, and why it stays digital."""
    plans = sorted(RunFolder(folder).plans_folder.glob("redistributed-*-slc*.json"))
    if not plans:
        return ""
    def rate(p: Path) -> float:
        try:
            return float(p.stem.rsplit("-slc", 1)[1].split("-")[0])
        except ValueError:
            return 1e9
    inner = [p for p in plans if 0 < rate(p) < 100] or plans
    chosen = min(inner, key=rate)
    plan = load_plan(chosen)
    body = [[cell(m.name, text=True), cell(m.role, text=True), cell(m.layer, "" if m.layer is None else str(m.layer)),
             cell(f"{m.shape[0]}×{m.shape[1]}", text=True), cell("analog" if m.analog else "digital", text=True),
             cell(m.unit if m.analog else "", text=True), cell(m.rank if m.analog else None),
             cell(len(m.slc) if m.analog else None), cell(m.digital_reason or "", text=True)]
            for m in plan.matrices]
    n = len(plan.analog)
    note = (f"{n} matrices on analog arrays, {len(plan.digital)} digital (from {chosen.name}: "
            f"{plan.slc_weight_fraction:.1%} of the analog weights in SLC).")
    return table(["matrix", "role", "layer", "shape", "placement", "unit", "rank", "SLC units", "why digital"], body,
                 note)


def hw_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = [c for c in HW_COLUMNS if c in rows[0]]
    body = []
    for r in rows:
        line = []
        for c in cols:
            v = number(r[c])
            if c == "design":
                line.append(cell(r[c], text=True))
            elif c == "slc_weight_fraction":
                line.append(cell(r[c], "" if v is None else f"{100 * v:.1f}"))
            else:
                line.append(cell(r[c], "" if v is None else f"{v:.4g}"))
        body.append(line)
    names = {"slc_weight_fraction": "SLC share (%)", "throughput_tok_s": "tokens/s", "tops_per_w": "TOPS/W",
             "throughput_vs_all_slc": "throughput vs all-SLC", "efficiency_vs_all_slc": "TOPS/W vs all-SLC",
             "energy_per_token_j": "energy/token (J)", "area_mm2": "area (mm²)", "slc_rate": "SLC rate (%)",
             "seq_len": "sequence length"}
    return table([names.get(c, c) for c in cols], body, "From hw_results.csv: each design at each sequence length; "
                                                       "gains against the all-SLC INT8 design.")


def csv_table(path: Path, note: str = "") -> str:
    rows = read_csv(path)
    if not rows:
        return ""
    cols = list(rows[0])
    body = [[cell(number(r[c]) if number(r[c]) is not None else r[c], None if number(r[c]) is not None else r[c])
             for c in cols] for r in rows]
    return table(cols, body, note or path.name)
