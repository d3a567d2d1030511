"""The main curve of several results tables (runs, labelled variants, sweep cells) in one figure and one table."""

from __future__ import annotations

from hyflexpim.report.html_page import cell, figure, table
from hyflexpim.report.html_tables import metric_text, number


def main_curve(rows: list[dict]) -> list[dict]:
    mains = [r for r in rows if r["variant"] == "redistributed" and r["slc_rate"] not in ("", None)]
    scorers = [r["scorer"] for r in mains]
    main = max(set(scorers), key=scorers.count) if scorers else None
    # the first policy of the main scorer is the run's own (ablation policies come later in the file)
    policy = next((r["policy"] for r in mains if r["scorer"] == main), None)
    return sorted((r for r in mains if r["scorer"] == main and r["policy"] == policy),
                  key=lambda r: float(r["slc_rate"]))


def variants_overlay(series: list[tuple[str, list[dict]]], title: str) -> str:
    """The main curve of several results tables in one figure (made here, in memory) and one table."""
    from hyflexpim.report.plots import plot_overlay_bytes  # lazy: matplotlib

    curves = [(name, [_row_numbers(r) for r in main_curve(rows)]) for name, rows in series]
    curves = [(n, rs) for n, rs in curves if rs]
    if not curves:
        return ""
    metric = curves[0][1][0]["metric"]
    rates = sorted({r["slc_rate"] for _, rs in curves for r in rs})
    body = []
    for name, rs in curves:
        at = {r["slc_rate"]: r for r in rs}
        body.append([cell(name, text=True)] + [cell(at[x]["mean"], metric_text(at[x]["mean"], metric)) if x in at
                                                else cell(None, "") for x in rates])
    unit = " (%)" if metric == "accuracy" else ""
    return (figure(plot_overlay_bytes(curves, title), title)
            + table(["run / variant"] + [f"{x:g} % SLC{unit}" for x in rates], body,
                    f"{metric} of the main curve (mean over noise seeds)"))


def _row_numbers(r: dict) -> dict:
    return {**r, **{k: number(r.get(k)) for k in ("slc_rate", "mean", "std", "ci_low", "ci_high")}}
