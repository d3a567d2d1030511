"""Plot of the metric against the SLC rate, one line per (variant, selection rule)."""

from __future__ import annotations

from pathlib import Path

from hyflexpim.report.png import pyplot, save_png
from hyflexpim.report.results import label


def plot_metric_vs_slc(rows: list[dict], path: Path, title: str = "") -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["slc_rate"] is not None:
            curves.setdefault((r["variant"], r["scorer"]), []).append(r)
    for (variant, scorer), rs in curves.items():
        rs.sort(key=lambda r: r["slc_rate"])
        x = [r["slc_rate"] for r in rs]
        style = "o-" if len(rs) > 2 else "s"
        ax.errorbar(x, [r["mean"] for r in rs], yerr=[r["std"] for r in rs], fmt=style, capsize=3,
                    label=label(variant, scorer))
    for r in rows:
        if r["slc_rate"] is None:
            ax.axhline(r["mean"], ls="--", lw=1, color="grey" if r["variant"] == "fp32" else "tab:purple",
                       label=label(r["variant"], None))
    metric = rows[0]["metric"] if rows else "metric"
    return _finish(fig, ax, metric, "SLC rate (% of singular components, or rows, per matrix)", title, path, 7)


def _finish(fig, ax, metric: str, xlabel: str, title: str, path: Path, legend_size: int) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    if metric == "perplexity":
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    return save_png(fig, path, dpi=120, tight=False)


def plot_overlay(series: list[tuple[str, list[dict]]], path: Path, variant: str = "redistributed",
                 scorer: str = "grad_abs", title: str = "") -> Path:
    """One curve per results file (e.g. paper noise / calibrated levels / circuit mode), same variant and scorer."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    metric = "metric"
    for name, rows in series:
        rs = sorted((r for r in rows if r["variant"] == variant and r["scorer"] == scorer and r["slc_rate"] is not None),
                    key=lambda r: r["slc_rate"])
        if not rs:
            continue
        metric = rs[0]["metric"]
        ax.errorbar([r["slc_rate"] for r in rs], [r["mean"] for r in rs], yerr=[r["std"] for r in rs],
                    fmt="o-", capsize=3, label=name)
    return _finish(fig, ax, metric, "SLC rate (% of singular components per matrix)",
                   title or label(variant, scorer), path, 8)
