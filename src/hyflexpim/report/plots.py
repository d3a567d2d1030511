"""Plot of the metric against the SLC rate, one line per (variant, selection rule)."""

from __future__ import annotations

from pathlib import Path

from hyflexpim.report.png import outside_legend, png_bytes, pyplot, save_png
from hyflexpim.report.results import label


def _bars(rs: list[dict]):
    """Error bars: the 95 % paired-bootstrap interval where the rows carry it, else the seed spread (± std)."""
    if all(r.get("ci_low") is not None for r in rs):
        return [[r["mean"] - r["ci_low"] for r in rs], [r["ci_high"] - r["mean"] for r in rs]], "95 % CI"
    return [r["std"] for r in rs], "± std over seeds"


def plot_metric_vs_slc(rows: list[dict], path: Path, title: str = "", pretrained: bool = False) -> Path:
    """Each curve with its error bars (accuracy in %); a point whose difference from INT8 (the main curve at 100 % SLC)
    is resolved (its interval excludes zero) is filled, one within the uncertainty of INT8 is hollow. Ablations
    measured at a few rates are drawn side by side around their rate, so that none hides another. ``pretrained``: the
    FP32 line is the pretrained model (no fine-tuning before SVD)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    curves: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["slc_rate"] is not None:
            curves.setdefault((r["variant"], r["scorer"], r.get("policy")), []).append(r)
    metric = rows[0]["metric"] if rows else "metric"
    k = 100.0 if metric == "accuracy" else 1.0
    short = [key for key, rs in curves.items() if len(rs) <= 2]
    kinds = set()
    for key, rs in curves.items():
        rs.sort(key=lambda r: r["slc_rate"])
        dodge = 0.9 * (short.index(key) - (len(short) - 1) / 2) if key in short else 0.0
        x = [r["slc_rate"] + dodge for r in rs]
        style = "o-" if key not in short else "s"
        yerr, kind = _bars(rs)
        kinds.add(kind)
        yerr = [[k * v for v in side] for side in yerr] if isinstance(yerr[0], list) else [k * v for v in yerr]
        line = ax.errorbar(x, [k * r["mean"] for r in rs], yerr=yerr, fmt=style, capsize=3, label=label(*key))
        hollow = [(xi, r) for xi, r in zip(x, rs) if r.get("vs_int8_resolved") is False]
        if hollow:
            ax.plot([xi for xi, _ in hollow], [k * r["mean"] for _, r in hollow], style[0], mfc="white",
                    mec=line[0].get_color(), ms=7, zorder=3)
    for r in rows:
        if r["slc_rate"] is None:
            ax.axhline(k * r["mean"], ls="--", lw=1, color="grey" if r["variant"] == "fp32" else "tab:purple",
                       label=label(r["variant"], None, pretrained=pretrained))
    if any(r.get("vs_int8_resolved") is not None for r in rows):
        title = (title + "\n" if title else "") + f"bars: {' / '.join(sorted(kinds))}; hollow: not resolved from INT8"
    return _finish(fig, ax, "accuracy (%)" if metric == "accuracy" else metric,
                   "SLC rate (% of singular components, or rows, per matrix)", title, path, 7)


def _finish(fig, ax, metric: str, xlabel: str, title: str, path: Path | None, legend_size: int) -> Path | bytes:
    """Axes labels, title, and the legend outside the axes (right), so that it never covers data; ``path`` None:
    the PNG's bytes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    if metric == "perplexity":
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    outside_legend(ax, legend_size)
    if path is None:
        return png_bytes(fig)
    return save_png(fig, path, dpi=120, tight=True)


def plot_overlay(series: list[tuple[str, list[dict]]], path: Path, variant: str = "redistributed",
                 scorer: str = "grad_abs", title: str = "") -> Path:
    """One curve per results file (e.g. paper noise / calibrated levels / circuit mode), same variant and scorer."""
    curves = [(name, sorted((r for r in rows if r["variant"] == variant and r["scorer"] == scorer
                             and r["slc_rate"] is not None), key=lambda r: r["slc_rate"])) for name, rows in series]
    return _overlay(curves, title or label(variant, scorer), path)


def plot_overlay_bytes(curves: list[tuple[str, list[dict]]], title: str) -> bytes:
    """The same figure for curves already chosen (name, rows sorted by SLC rate), as PNG bytes."""
    return _overlay(curves, title, None)


def _overlay(curves, title: str, path: Path | None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    metric = "metric"
    markers, dashes = "osD^vP*Xh<>", ["-", "--", ":", "-."]
    shown = [c for c in curves if c[1]]
    kinds = set()
    for i, (name, rs) in enumerate(shown):
        metric = rs[0]["metric"]
        k = 100.0 if metric == "accuracy" else 1.0
        yerr, kind = _bars(rs)
        kinds.add(kind)
        yerr = [[k * v for v in side] for side in yerr] if isinstance(yerr[0], list) else [k * v for v in yerr]
        dodge = 0.6 * (i - (len(shown) - 1) / 2)  # points a little apart in x: curves that coincide stay visible
        ax.errorbar([r["slc_rate"] + dodge for r in rs], [k * r["mean"] for r in rs], yerr=yerr,
                    fmt=markers[i % len(markers)], ls=dashes[i % len(dashes)], ms=7 - 0.4 * (i % 5), capsize=3,
                    label=name, alpha=0.85)
    if kinds:
        title += f"\nbars: {' / '.join(sorted(kinds))}"
    return _finish(fig, ax, "accuracy (%)" if metric == "accuracy" else metric,
                   "SLC rate (% of singular components per matrix; points dodged apart)", title, path, 8)


def plot_device_map(rows: list[dict], need: dict, axis: str, tolerance: float, path: Path, title: str = "") -> Path:
    """The accuracy lost against INT8 (points) over the MLC device quality (log axis), one curve per SLC rate with the
    95 % interval of the paired difference as a band; the tolerance as a line; each rate's requirement (point
    estimate) marked with a triangle on it."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    int8 = rows[0]["int8"]
    rates = sorted({r["slc_rate"] for r in rows})
    for i, rate in enumerate(rates):
        rs = sorted((r for r in rows if r["slc_rate"] == rate), key=lambda r: r["value"])
        x = [r["value"] for r in rs]
        line, = ax.plot(x, [100 * r["vs_int8"] for r in rs], "o-", label=f"{rate:g} % SLC", zorder=3)
        if all(r["vs_int8_low"] is not None for r in rs):
            ax.fill_between(x, [100 * r["vs_int8_low"] for r in rs], [100 * r["vs_int8_high"] for r in rs],
                            color=line.get_color(), alpha=0.12, lw=0)
        req = need.get(f"{rate:g}", {}).get("point")
        if req is not None:
            ax.plot([req * (1 + 0.04 * (i - (len(rates) - 1) / 2))], [-100 * tolerance], "v", color=line.get_color(),
                    ms=10, mec="black", zorder=4)
    ax.axhline(0, color="black", lw=1)
    ax.axhline(-100 * tolerance, color="black", lw=1, ls="--", label=f"INT8 − {100 * tolerance:g} pt")
    ax.set_xscale("log")
    ax.set_xlabel(axis + " (log scale)")
    ax.set_ylabel(f"accuracy − INT8 ({100 * int8:.1f} %), points")
    ax.set_title(title + "\nbands: 95 % CI of the paired difference (test examples × seeds); ▼: largest value "
                 "within the tolerance", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    outside_legend(ax, 8)
    return save_png(fig, path, dpi=120, tight=True)
