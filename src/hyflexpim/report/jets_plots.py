"""Figures of ParT's attention on jets: the η–φ attention graph of one jet per class (after Wang et al.), and the
share of attention within a particle's own subjet per class and layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hyflexpim.report.png import outside_legend, pyplot, save_png

MARKERS = ["o", "s", "^", "D", "*"]  # charged hadron, neutral hadron, photon, electron, muon
COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red"]


def eta_phi_graph(examples: list[dict], layer: int, threshold: float, path: Path, title: str,
                  type_names: list[str]) -> Path:
    """Per class: the jet's particles at (Δη, Δφ), marker by particle type, size by pT, colour by subjet, and a
    line for every pair whose attention (mean over heads, either direction) is above ``threshold``: solid within
    a subjet, dotted across."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    n = len(examples)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.6), squeeze=False)
    for ax, ex in zip(axes[0], examples):
        x, y = np.array(ex["deta"]), np.array(ex["dphi"])
        sub, kind = np.array(ex["subjet"]), np.array(ex["type"])
        size = 6 + 40 * np.clip((np.array(ex["pt_log"]) + 1) / 7, 0, 1)
        att = ex["attention"][layer].mean(0).numpy()
        a = np.maximum(att, att.T)
        i, j = np.nonzero(np.triu(a > threshold, 1))
        for p, q in zip(i, j):
            same = sub[p] >= 0 and sub[p] == sub[q]
            ax.plot([x[p], x[q]], [y[p], y[q]], ls="-" if same else ":", lw=0.4 + 1.6 * float(a[p, q]),
                    color="0.25" if same else "tab:purple", alpha=0.8, zorder=1)
        for t, marker in enumerate(MARKERS):
            sel = kind == t
            colours = [COLOURS[s % len(COLOURS)] if s >= 0 else "0.6" for s in sub[sel]]
            ax.scatter(x[sel], y[sel], s=size[sel], c=colours, marker=marker, edgecolors="k", linewidths=0.3,
                       zorder=2)
        ax.set_title(f"{ex['class']} ({len(x)} particles, {len(i)} pairs)", fontsize=8)
        ax.set_xlabel("Δη", fontsize=8)
        ax.set_xlim(-0.85, 0.85)
        ax.set_ylim(-0.85, 0.85)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    axes[0][0].set_ylabel("Δφ", fontsize=8)
    handles = [Line2D([], [], ls="", marker=m, color="0.5", label=t) for m, t in zip(MARKERS, type_names)]
    handles += [Line2D([], [], ls="-", color="0.25", label="within a subjet"),
                Line2D([], [], ls=":", color="tab:purple", label="across subjets")]
    fig.legend(handles=handles, loc="lower center", ncol=7, fontsize=7, frameon=False)
    fig.suptitle(f"{title}: layer {layer}, pairs with attention > {threshold:g} (mean over heads); colour = "
                 "exclusive-kT subjet", fontsize=9)
    fig.subplots_adjust(bottom=0.24, top=0.84, wspace=0.3)
    return save_png(fig, path)


def subjet_share(rows: list[dict], path: Path, title: str) -> Path:
    """Share of attention on the own subjet per layer, one line per class; dashed: uniform attention."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    classes = list(dict.fromkeys(r["class"] for r in rows))
    for k, c in enumerate(classes):
        rs = sorted((r for r in rows if r["class"] == c), key=lambda r: r["layer"])
        colour = f"C{k}"
        ax.plot([r["layer"] for r in rs], [100 * r["within"] for r in rs], "o-", color=colour, label=c)
        ax.plot([r["layer"] for r in rs], [100 * r["uniform"] for r in rs], "--", color=colour, alpha=0.5)
    ax.set_xlabel("particle-attention block")
    ax.set_ylabel("attention mass on the own subjet (%)")
    ax.set_ylim(0, 100)
    outside_legend(ax, title="solid: ParT\ndashed: uniform", title_fontsize=7)
    ax.set_title(title, fontsize=9)
    return save_png(fig, path)
