"""Each cell's main curve against the reference cell's, point by point: the paired difference over the same test
examples (and the same noise seeds where both used them), its 95 % interval and whether it is resolved
(``report.confidence``) — so a sweep says which of its cells differ, not only their means."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.report.confidence import difference, point
from hyflexpim.sweep.cell import RECORDS
from hyflexpim.sweep.spec import Cell

COLUMNS = ["cell", "reference", "slc_rate", "mean", "reference_mean", "diff", "ci_low", "ci_high", "resolved",
           "paired_seeds"]


def main_points(cell: Cell) -> dict[float, list[dict]]:
    """The records of the cell's main curve by SLC rate (this run's own evaluations, as the cell saved them)."""
    path = Path(cell.config.out) / RECORDS
    if not path.exists():
        return {}
    out: dict[float, list[dict]] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if (r["variant"] == "redistributed" and r["scorer"] == cell.config.importance.scorer
                and r["policy"] == cell.config.plan.policy and r["slc_rate"] is not None):
            out.setdefault(r["slc_rate"], []).append(r)
    return out


def cell_differences(cells: list[Cell], records: list[dict], reference: str | None) -> list[dict]:
    done = {r["name"] for r in records if r["status"] == "done"}
    ordered = [c for c in cells if c.name in done]
    ref = next((c for c in ordered if c.name == reference), ordered[0] if ordered else None)
    if ref is None:
        return []
    base = main_points(ref)
    rows = []
    for c in ordered:
        if c is ref:
            continue
        for rate, recs in sorted(main_points(c).items()):
            if rate not in base:
                continue
            a, b = point(recs), point(base[rate])
            d = difference(a, b) if a is not None and b is not None else None
            if d is not None:
                mean = float(sum(r["value"] for r in recs) / len(recs))
                ref_mean = float(sum(r["value"] for r in base[rate]) / len(base[rate]))
                rows.append({"cell": c.name, "reference": ref.name, "slc_rate": rate, "mean": mean,
                             "reference_mean": ref_mean, **d})
    return rows


def write_cell_differences(root: Path, cells: list[Cell], records: list[dict], reference: str | None) -> list[Path]:
    rows = cell_differences(cells, records, reference)
    if not rows:
        return []
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return [write_atomic(root / "sweep_differences.csv", buf.getvalue()),
            write_atomic(root / "sweep_differences.json", json.dumps(rows, indent=1))]
