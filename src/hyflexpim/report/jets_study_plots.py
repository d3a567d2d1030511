"""The scale study's figure: binary-row share, k₉₀ and accuracy of ParT against its training jets, one line per
model size and pair-bias setting (``hyflexpim.pipeline.jets_study``)."""

from __future__ import annotations

from pathlib import Path

from hyflexpim.report.png import outside_legend, pyplot, save_png

PANELS = [("binary_mean", "rows with max ≥ 0.9 (%)\n(mean over blocks)", 100.0),
          ("k90_mean", "k₉₀ (mean over blocks)", 1.0),
          ("accuracy", "test accuracy (%)", 100.0)]


def study_figure(rows: list[dict], path: Path, title: str) -> Path:
    """Three panels against training jets (log axis); solid: with the pair bias, dashed: without; dotted grey on
    the first panel: the attention-only map (pair bias taken out) of the with-bias models."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    lines = sorted({(r["model"], r["pair_bias"]) for r in rows})
    for ax, (key, label, scale) in zip(axes, PANELS):
        for model, bias in lines:
            pts = sorted((r["train_jets"], r[key] * scale, r["binary_attention_only_mean"] * scale) for r in rows
                         if r["model"] == model and r["pair_bias"] == bias)
            x = [p[0] for p in pts]
            colour = f"C{sorted({m for m, _ in lines}).index(model)}"
            ax.plot(x, [p[1] for p in pts], "o-" if bias else "s--", color=colour,
                    label=f"{model}, pair bias {'on' if bias else 'off'}")
            if key == "binary_mean" and bias:
                ax.plot(x, [p[2] for p in pts], ":", color=colour, alpha=0.6, label=f"{model}, attention-only map")
        ax.set_xscale("log")
        sizes = sorted({r["train_jets"] for r in rows})
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training jets")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()  # the first panel has every line
    outside_legend(axes[-1], handles=handles, labels=labels)
    fig.suptitle(title, fontsize=9)
    return save_png(fig, path)
