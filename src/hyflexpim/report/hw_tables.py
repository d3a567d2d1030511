"""Flat result rows, CSV/JSON files (written atomically) and the rich table of ``hyflexpim hw``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rich.table import Table

from hyflexpim.atomic import write_atomic
from hyflexpim.hw.results import HwResult, to_rows


def rows(results: list[HwResult]) -> list[dict]:
    """One row per design, mode and sequence length (``hyflexpim.hw.results.to_rows``)."""
    return to_rows(results)


def write_results(results: list[HwResult], out: Path) -> list[Path]:
    return write_table(rows(results), results, Path(out))


def _json(x: HwResult | list) -> dict | list:
    """The JSON form of a result, or of a list of them (a run's: one list per plan)."""
    return x.as_dict() if isinstance(x, HwResult) else [_json(v) for v in x]


def write_table(table: list[dict], results: list[HwResult] | list[list[HwResult]], out: Path) -> list[Path]:
    """hw_results.csv (the flat table) and hw_results.json (the full results: a list of results, or a run's list
    per plan), atomically."""
    keys: list[str] = []
    for row in table:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(table)
    return [write_atomic(out / "hw_results.csv", buf.getvalue()),
            write_atomic(out / "hw_results.json", json.dumps(_json(results), indent=1))]


def by_mode(results: list[HwResult]) -> list[list[HwResult]]:
    """The results of each mode (in order of appearance), each list led by its HyFlexPIM result."""
    groups: dict = {}
    for r in results:
        groups.setdefault(r.mode, []).append(r)
    return list(groups.values())


def rich_tables(results: list[HwResult]):
    """Per mode (a decoder's prefill and generation side by side): throughput, TOPS/W, TOPS/mm² and energy per
    token of every design; on each baseline's row, in brackets, HyFlexPIM's gain over it; then the bottleneck."""
    return [t for group in by_mode(results) for t in _mode_tables(group)]


def _mode_tables(results: list[HwResult]):
    seq = results[0].seq_lens
    hy = results[0]
    info = hy.info
    tables = []
    for metric, title, fmt, scale, gain in (
            ("throughput_tok_s", "throughput (tokens/s)", "{:.3g}", 1.0, True),
            ("tops_per_w", "energy efficiency (TOPS/W)", "{:.3g}", 1.0, True),
            ("tops_per_mm2", "TOPS/mm2", "{:.3g}", 1.0, True),
            ("energy_per_token_j", "energy per token (uJ)", "{:.3g}", 1e6, False)):
        t = Table(title=f"{hy.model} {_mode_label(hy)} - {title} - compare {info.compare or ''}, "
                        f"batch {info.batch_label or ''}")
        t.add_column("design")
        for L in seq:
            t.add_column(f"L={L}", justify="right")
        for r in results:
            vals, ref = getattr(r, metric), getattr(hy, metric)
            cells = [fmt.format(v * scale) for v in vals]
            if gain and r is not hy:
                cells = [f"{c} ({h / v:.2f}x)" for c, v, h in zip(cells, vals, ref)]
            t.add_row(r.key, *cells)
        tables.append(t)
    t = Table(title=f"{hy.model} {_mode_label(hy)} - bottleneck (prompt pass: slowest stage and what fills it)")
    t.add_column("design")
    for L in seq:
        t.add_column(f"L={L}", justify="right")
    for r in results:
        t.add_row(r.key, *[str(b) for b in r.bottleneck_stage])
    tables.append(t)
    return tables


def _mode_label(r: HwResult) -> str:
    mode = r.mode or ""
    if mode == "generation":
        return f"(generation: prompt + {r.info.gen_tokens} tokens)"
    return "(prefill: prompt teacher-forced, 0 generated)" if mode == "prefill" else f"({mode})" if mode else ""
