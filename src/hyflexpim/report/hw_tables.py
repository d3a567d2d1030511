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
    from rich.table import Table

    seq = results[0]["seq_lens"]
    tables = []
    for metric, title, fmt in (("throughput_tok_s", "throughput (tokens/s)", "{:.3g}"),
                               ("tops_per_w", "energy efficiency (TOPS/W)", "{:.3g}"),
                               ("energy_per_token_j", "energy per token (uJ)", "{:.3g}")):
        t = Table(title=f"{results[0]['model']} - {title}")
        t.add_column("design")
        for L in seq:
            t.add_column(f"L={L}", justify="right")
        ref = next((r for r in results if r.get("key") == "all_slc"), None)
        for r in results:
            scale = 1e6 if metric == "energy_per_token_j" else 1.0
            cells = [fmt.format(v * scale) for v in r[metric]]
            if ref is not None and r["key"] == "hyflexpim" and metric != "energy_per_token_j":
                cells = [f"{c} ({v / b:.2f}x)" for c, v, b in zip(cells, r[metric], ref[metric])]
            t.add_row(r["key"], *cells)
        tables.append(t)
    return tables
