"""`report.html` of a sweep folder: the cells (what each sets, its status, a link to its own report), the main
curve of every cell overlaid, and the combined table (the same numbers as each cell's results.csv)."""

from __future__ import annotations

from pathlib import Path

from hyflexpim.boundary import parse_yaml, read_text
from hyflexpim.report.html_overlay import variants_overlay
from hyflexpim.report.html_page import cell, figure, para, table
from hyflexpim.report.html_tables import metric_text, number, read_csv, results_table

FIXED = ("cell", "variant", "scorer", "policy", "slc_rate", "slc_weight_fraction", "encoding", "mlc_bits", "metric",
         "mean", "std", "n", "ci_low", "ci_high", "vs_int8", "vs_int8_low", "vs_int8_high", "vs_int8_resolved",
         "values")


def sweep_name(root: Path) -> str:
    """The sweep's own name (sweep.yaml), else its folder's."""
    if (root / "sweep.yaml").exists():
        data = parse_yaml(read_text(root / "sweep.yaml", "sweep file"), "sweep file")
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            return data["name"]
    return root.name


def sweep_sections(root: Path) -> list[tuple[str, str, str]]:
    rows = read_csv(root / "sweep_results.csv")
    status = read_csv(root / "sweep_cells.csv") if (root / "sweep_cells.csv").exists() else []
    fields = [c for c in (rows[0] if rows else {}) if c not in FIXED]
    out = []
    body = []
    for s in status:
        page = Path(s["folder"]) / "report.html"
        link = None
        if page.exists():
            try:
                link = page.relative_to(root.resolve()).as_posix()
            except ValueError:
                link = page.as_uri()
        body.append([cell(s["cell"], text=True, href=link), cell(s["status"], text=True,
                                                                  cls="yes" if s["status"] == "done" else "failed"),
                     cell(number(s["seconds"]), "" if number(s["seconds"]) is None else f"{number(s['seconds']):.0f}"),
                     cell("yes" if s["skipped"] == "True" else "", text=True), cell(s["error"], text=True)])
    failed = sum(s["status"] != "done" for s in status)
    out.append(("cells", "Cells", table(["cell (its report)", "status", "seconds", "finished earlier", "error"], body,
                                        f"{len(status)} cells, {failed} failed; each cell is an ordinary run folder "
                                        f"under {root / 'cells'}.")))
    by_cell: dict[str, list[dict]] = {}
    for r in rows:
        by_cell.setdefault(r["cell"], []).append(r)
    overlay = variants_overlay(list(by_cell.items()), f"sweep {sweep_name(root)}: main curve of each cell")
    if (root / "sweep_curves.png").exists() and not overlay:
        overlay = figure(root / "sweep_curves.png", "main curve of each cell")
    out.append(("curves", "Main curves", overlay))
    if (root / "sweep_differences.csv").exists():
        diffs = read_csv(root / "sweep_differences.csv")
        metric = rows[0]["metric"] if rows else "accuracy"
        k, unit = (100, " (points)") if metric == "accuracy" else (1, "")
        body = [[cell(d["cell"], text=True), cell(d["slc_rate"], f"{number(d['slc_rate']):g}"),
                 cell(d["mean"], metric_text(number(d["mean"]), metric)),
                 cell(d["reference_mean"], metric_text(number(d["reference_mean"]), metric)),
                 cell(d["diff"], f"{k * number(d['diff']):+.2f}"), cell(d["ci_low"], f"{k * number(d['ci_low']):+.2f}"),
                 cell(d["ci_high"], f"{k * number(d['ci_high']):+.2f}"),
                 cell(d["resolved"], "yes" if d["resolved"] == "True" else "no", text=True,
                      cls="yes" if d["resolved"] == "True" else "")] for d in diffs]
        ref = diffs[0]["reference"] if diffs else ""
        out.append(("differences", f"Each cell against {ref}",
                    table(["cell", "SLC rate (%)", metric, f"{metric} of {ref}", f"difference{unit}", "95 % CI low",
                           "95 % CI high", "resolved"], body,
                          "Main curves, point by point: paired bootstrap over the same test examples and noise seeds; "
                          "resolved when the interval excludes zero.")))
    if rows and fields:
        metric = rows[0]["metric"]
        main = [r for r in rows if r["variant"] == "redistributed" and r["slc_rate"] not in ("", None)]
        body = [[cell(r["cell"], text=True)] + [cell(r[f], text=True) for f in fields]
                + [cell(r["scorer"], text=True), cell(r["slc_rate"], f"{number(r['slc_rate']):g}"),
                   cell(r["mean"], metric_text(number(r["mean"]), metric)),
                   cell(r["ci_low"], metric_text(number(r["ci_low"]), metric)),
                   cell(r["ci_high"], metric_text(number(r["ci_high"]), metric))] for r in main]
        unit = " (%)" if metric == "accuracy" else ""
        out.append(("by-field", "Redistributed curves by the fields the sweep varies",
                    table(["cell", *fields, "scorer", "SLC rate (%)", f"{metric}{unit}", f"95 % CI low{unit}",
                           f"95 % CI high{unit}"], body, "Sort by any column to group cells by a field.")))
    for name, rs in by_cell.items():
        out.append((f"cell-{name}", f"Cell {name}", results_table(rs)))
    out.append(("files", "Files", para(f"Combined table: {root / 'sweep_results.csv'} (and .json); cells: "
                                       f"{root / 'sweep_cells.csv'}; figure: {root / 'sweep_curves.png'}.")))
    return [s for s in out if s[2]]
