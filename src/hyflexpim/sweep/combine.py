"""The end of a sweep: one combined table of every cell's results (CSV/JSON), the cells' status, the overlay figure
of their main curves, and the sweep's HTML report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json
from hyflexpim.report.results import COLUMNS
from hyflexpim.sweep.spec import Cell

CELL_COLUMNS = ["cell", "status", "seconds", "skipped", "error", "folder"]


def _value(v) -> str | float | int | bool | None:
    return v if v is None or isinstance(v, (str, int, float, bool)) else json.dumps(v, sort_keys=True)


def combined_rows(cells: list[Cell], records: list[dict]) -> tuple[list[str], list[dict]]:
    """Every finished cell's results rows, each led by the cell's name and the values it sets."""
    fields = list(dict.fromkeys(k for c in cells for k in c.overrides))
    status = {r["name"]: r["status"] for r in records}
    rows = []
    for c in cells:
        path = Path(c.config.out) / "results.json"
        if status.get(c.name) != "done" or not path.exists():
            continue
        for r in load_json(path, "cell results"):
            rows.append({"cell": c.name, **{f: _value(c.overrides.get(f)) for f in fields}, **r})
    return ["cell", *fields, *COLUMNS], rows


def write_combined(root: Path, cells: list[Cell], records: list[dict]) -> list[Path]:
    columns, rows = combined_rows(cells, records)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "values": " ".join(f"{v:.6g}" for v in r["values"])})
    cbuf = io.StringIO()
    cw = csv.DictWriter(cbuf, fieldnames=CELL_COLUMNS, extrasaction="ignore")
    cw.writeheader()
    for r in records:
        cw.writerow({"cell": r["name"], "status": r["status"], "seconds": r.get("seconds"),
                     "skipped": r.get("skipped", False), "error": r.get("error", ""), "folder": r.get("folder")})
    files = [write_atomic(root / "sweep_results.csv", buf.getvalue()),
             write_atomic(root / "sweep_results.json", json.dumps(rows, indent=1)),
             write_atomic(root / "sweep_cells.csv", cbuf.getvalue())]
    series = [(c.name, [r for r in rows if r["cell"] == c.name and r["policy"] in (None, c.config.plan.policy)])
              for c in cells]
    series = [(n, rs) for n, rs in series if rs]
    if series:
        from hyflexpim.report.plots import plot_overlay  # lazy: matplotlib

        files.append(plot_overlay(series, root / "sweep_curves.png", "redistributed", cells[0].config.importance.scorer,
                                  f"{root.name}: main curve of each cell ({len(series)} cells)"))
    return files
