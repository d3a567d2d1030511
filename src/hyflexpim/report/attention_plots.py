"""Figures of an attention analysis: heat maps of one example, score histograms (log y), metric maps
(layer x head), k90 fraction vs layer; for a PIM twin, clean and noisy side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hyflexpim.report.png import outside_legend, pyplot, save_png

EDGES = np.linspace(0, 1, 21)


def heatmap_grid(example: dict, tokens: list[str], path: Path, title: str) -> Path:
    plt = pyplot()
    layers = sorted(example)
    H = example[layers[0]].shape[0]
    fig, axes = plt.subplots(len(layers), H, figsize=(1.1 * H + 1, 1.1 * len(layers) + 1), squeeze=False)
    n = example[layers[0]].shape[-1]
    labels = tokens[:n] if tokens else [str(i) for i in range(n)]
    for r, layer in enumerate(layers):
        for h in range(H):
            ax = axes[r][h]
            ax.imshow(example[layer][h].numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            if h == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=7)
            if r == 0:
                ax.set_title(f"head {h}", fontsize=7)
    if n <= 24:  # the tokens, on the first map of the last row (query rows, key columns)
        ax = axes[-1][0]
        ax.set_xticks(range(n), labels, rotation=90, fontsize=4)
        ax.set_yticks(range(n), labels, fontsize=4)
    fig.suptitle(f"{title}: attention of one example (rows: queries, columns: keys; colour 0..1)", fontsize=9)
    return save_png(fig, path)


def histograms(report, path: Path, title: str) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    centers = (EDGES[:-1] + EDGES[1:]) / 2
    for label, twin in (("clean", False), ("PIM twin", True)):
        if twin and not report.twin_layers:
            continue
        h = np.asarray(report.histogram(twin=twin))
        axes[0].step(centers, h / max(h.sum(), 1), where="mid", label=label)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("post-softmax attention score")
    axes[0].set_ylabel("share of scores (log)")
    axes[0].set_title("all layers and heads")
    axes[0].legend(fontsize=7)
    for layer in sorted(report.layers):
        h = np.asarray(report.histogram(layer))
        axes[1].step(centers, h / max(h.sum(), 1), where="mid", label=f"layer {layer}")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("post-softmax attention score")
    axes[1].set_ylabel("share of scores (log)")
    axes[1].set_title("per layer (clean)")
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=9)
    return save_png(fig, path)


def metric_maps(report, path: Path, title: str) -> Path:
    plt = pyplot()
    keys = (("entropy_norm", "entropy / log(valid keys)"), ("top1", "top-1 mass"),
            ("k90_frac", "k90 / valid keys"), ("binary", "share of rows with max >= 0.9"))
    layers = sorted(report.layers)
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    for ax, (k, label) in zip(axes, keys):
        m = np.array([report.layers[l].mean(k) for l in layers])
        im = ax.imshow(m, vmin=0, vmax=1, cmap="magma", aspect="auto")
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_yticks(range(len(layers)), [str(l) for l in layers], fontsize=6)
        ax.set_title(label, fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=9)
    return save_png(fig, path)


def k90_vs_layer(report, path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, src in (("clean", report.layers), ("PIM twin", report.twin_layers)):
        if not src:
            continue
        layers = sorted(src)
        m = np.array([src[l].mean("k90_frac") for l in layers])
        ax.plot(layers, m.mean(1), marker="o", label=f"{label}: mean over heads")
        ax.fill_between(layers, m.min(1), m.max(1), alpha=0.2)
    ax.set_xlabel("layer")
    ax.set_ylabel("keys kept for 90 % of the mass (fraction)")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    outside_legend(ax)
    return save_png(fig, path)


def write_attention_figures(report, out: Path) -> list[Path]:
    title = report.label or "attention"
    files = [histograms(report, out / "attention_histogram.png", title),
             metric_maps(report, out / "attention_metric_maps.png", title),
             k90_vs_layer(report, out / "attention_k90_vs_layer.png", title)]
    if report.example:
        files.append(heatmap_grid(report.example, report.tokens, out / "attention_heatmaps.png", title))
    if report.twin_example:
        files.append(heatmap_grid(report.twin_example, report.tokens, out / "attention_heatmaps_twin.png",
                                  title + " (PIM twin)"))
    return files


def noise_vs_layer(rows: list[dict], path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for plan in dict.fromkeys(r["plan"] for r in rows):
        rs = sorted((r for r in rows if r["plan"] == plan), key=lambda r: r["layer"])
        x = [r["layer"] for r in rs]
        axes[0].plot(x, [r["top1_agreement"] for r in rs], marker="o", label=plan)
        axes[1].plot(x, [r["total_variation"] for r in rs], marker="o", label=plan)
    axes[0].set_ylabel("top-1 agreement with clean")
    axes[1].set_ylabel("mean total-variation distance")
    for ax in axes:
        ax.set_xlabel("layer")
    outside_legend(axes[1])
    axes[0].set_ylim(0, 1.02)
    fig.suptitle("attention of the PIM twin vs the clean model, per layer", fontsize=9)
    return save_png(fig, path)
