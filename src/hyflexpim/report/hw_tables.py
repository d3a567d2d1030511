"""Flat result rows, CSV/JSON files (written atomically) and the rich table of ``hyflexpim hw``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.hw.evaluate import METRICS


def rows(results: list[dict]) -> list[dict]:
    """One row per design, mode (encoder; a decoder's prefill or generation) and sequence length; gains are
    relative to the all-SLC baseline of the same mode."""
    refs: dict = {}
    for r in results:
        if r.get("key") == "all_slc":
            refs.setdefault(r.get("mode"), r)
    out = []
    for r in results:
        ref = refs.get(r.get("mode"))
        for i, L in enumerate(r["seq_lens"]):
            row = {"design": r["key"], "spec": r["spec"], "model": r["model"], "mode": r.get("mode"),
                   "slc_rate": r.get("slc_rate"),
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


def by_mode(results: list[dict]) -> list[list[dict]]:
    """The results of each mode (in order of appearance), each list led by its HyFlexPIM result."""
    groups: dict = {}
    for r in results:
        groups.setdefault(r.get("mode"), []).append(r)
    return list(groups.values())


def rich_tables(results: list[dict]):
    """Per mode (a decoder's prefill and generation side by side): throughput, TOPS/W, TOPS/mm² and energy per
    token of every design; on each baseline's row, in brackets, HyFlexPIM's gain over it; then the bottleneck."""
    return [t for group in by_mode(results) for t in _mode_tables(group)]


def _mode_tables(results: list[dict]):
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
        t = Table(title=f"{hy['model']} {_mode_label(hy)} - {title} - compare {info.get('compare', '')}, "
                        f"batch {info.get('batch_label', '')}")
        t.add_column("design")
        for L in seq:
            t.add_column(f"L={L}", justify="right")
        for r in results:
            cells = [fmt.format(v * scale) for v in r[metric]]
            if gain and r is not hy:
                cells = [f"{c} ({h / v:.2f}x)" for c, v, h in zip(cells, r[metric], hy[metric])]
            t.add_row(r["key"], *cells)
        tables.append(t)
    t = Table(title=f"{hy['model']} {_mode_label(hy)} - bottleneck (prompt pass: slowest stage and what fills it)")
    t.add_column("design")
    for L in seq:
        t.add_column(f"L={L}", justify="right")
    for r in results:
        t.add_row(r["key"], *[str(b) for b in r.get("bottleneck_stage", [""] * len(seq))])
    tables.append(t)
    return tables


def _mode_label(r: dict) -> str:
    mode = r.get("mode", "")
    if mode == "generation":
        return f"(generation: prompt + {r.get('info', {}).get('gen_tokens', '')} tokens)"
    return "(prefill: prompt teacher-forced, 0 generated)" if mode == "prefill" else f"({mode})" if mode else ""
