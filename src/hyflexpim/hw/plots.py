"""PNG plots: throughput and energy efficiency vs sequence length per design; energy breakdown."""

from __future__ import annotations

import io
from pathlib import Path

from hyflexpim.atomic import write_atomic


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return write_atomic(path, buf.getvalue())


def write_plots(results: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    paths = []
    model = results[0]["model"]
    for metric, label, name in (("throughput_tok_s", "throughput (tokens/s)", "throughput_vs_seq.png"),
                                ("tops_per_w", "energy efficiency (TOPS/W)", "efficiency_vs_seq.png")):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for r in results:
            ax.plot(r["seq_lens"], r[metric], marker="o", label=r["spec"])
        ax.set_xscale("log", base=2)
        ax.set_xticks(results[0]["seq_lens"], [str(L) for L in results[0]["seq_lens"]])
        ax.set_yscale("log")
        ax.set_xlabel("sequence length")
        ax.set_ylabel(label)
        ax.set_title(model)
        ax.legend(fontsize=7)
        paths.append(_save(fig, out / name))
        plt.close(fig)

    pim = [r for r in results if r["energy_by_role_j"]]
    fig, axes = plt.subplots(1, len(pim), figsize=(3.6 * len(pim), 3.8), sharey=True, squeeze=False)
    for ax, r in zip(axes[0], pim):
        x = [str(L) for L in r["seq_lens"]]
        bottom = [0.0] * len(x)
        total = r["energy_per_inference_j"]
        for cat, vals in r["energy_by_component_j"].items():
            vals = [100 * v / t for v, t in zip(vals, total)]
            ax.bar(x, vals, bottom=bottom, label=cat)
            bottom = [b + v for b, v in zip(bottom, vals)]
        e = r["energy_per_token_j"]
        ax.set_title(f"{r['spec']}\n{e[0] * 1e6:.3g} .. {e[-1] * 1e6:.3g} uJ/token", fontsize=7)
        ax.set_xlabel("sequence length")
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].set_ylabel("share of energy per inference (%)")
    axes[0][-1].legend(fontsize=7)
    paths.append(_save(fig, out / "energy_breakdown.png"))
    plt.close(fig)
    return paths
