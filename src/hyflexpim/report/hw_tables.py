"""Flat result rows, CSV/JSON files (written atomically) and the rich table of ``hyflexpim hw``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.hw.evaluate import METRICS


def rows(results: list[dict]) -> list[dict]:
    """One row per design and sequence length; gains are relative to the all-SLC baseline."""
    ref = next((r for r in results if r.get("key") == "all_slc"), None)
    out = []
    for r in results:
        for i, L in enumerate(r["seq_lens"]):
            row = {"design": r["key"], "spec": r["spec"], "model": r["model"], "slc_rate": r.get("slc_rate"),
                   "slc_weight_fraction": r.get("info", {}).get("slc_weight_fraction"), "seq_len": L}
            row.update({m: r[m][i] for m in METRICS})
            if ref is not None:
                row["throughput_vs_all_slc"] = r["throughput_tok_s"][i] / ref["throughput_tok_s"][i]
                row["efficiency_vs_all_slc"] = r["tops_per_w"][i] / ref["tops_per_w"][i]
            for cat, v in r["energy_by_component_j"].items():
                row[f"energy_{cat}_j"] = v[i] if isinstance(v, list) else v
            out.append(row)
    return out


def write_results(results: list[dict], out: Path) -> list[Path]:
    return write_table(rows(results), results, Path(out))


def write_table(table: list[dict], results: list[dict], out: Path) -> list[Path]:
    """hw_results.csv (the flat table) and hw_results.json (the full results), atomically."""
    keys: list[str] = []
    for row in table:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(table)
    return [write_atomic(out / "hw_results.csv", buf.getvalue()),
            write_atomic(out / "hw_results.json", json.dumps(results, indent=1))]


def rich_tables(results: list[dict]):
    """Throughput, TOPS/W, TOPS/mm² and energy per token of every design; on each baseline's row, in
    brackets, HyFlexPIM's gain over it; then the bottleneck of each design."""
    from rich.table import Table

    seq = results[0]["seq_lens"]
    hy = results[0]
    info = hy["info"]
    tables = []
    for metric, title, fmt, scale, gain in (
            ("throughput_tok_s", "throughput (tokens/s)", "{:.3g}", 1.0, True),
            ("tops_per_w", "energy efficiency (TOPS/W)", "{:.3g}", 1.0, True),
            ("tops_per_mm2", "TOPS/mm2", "{:.3g}", 1.0, True),
            ("energy_per_token_j", "energy per token (uJ)", "{:.3g}", 1e6, False)):
        t = Table(title=f"{hy['model']} - {title} - compare {info.get('compare', '')}, batch {info.get('batch_label', '')}")
        t.add_column("design")
        for L in seq:
            t.add_column(f"L={L}", justify="right")
        for r in results:
            cells = [fmt.format(v * scale) for v in r[metric]]
            if gain and r is not hy:
                cells = [f"{c} ({h / v:.2f}x)" for c, v, h in zip(cells, r[metric], hy[metric])]
            t.add_row(r["key"], *cells)
        tables.append(t)
    t = Table(title=f"{hy['model']} - bottleneck (prefill: slowest stage and what fills it)")
    t.add_column("design")
    for L in seq:
        t.add_column(f"L={L}", justify="right")
    for r in results:
        t.add_row(r["key"], *[str(b) for b in r.get("bottleneck_stage", [""] * len(seq))])
    tables.append(t)
    return tables
