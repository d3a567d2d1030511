"""PNG plots: throughput and energy efficiency vs sequence length per design; energy breakdown."""

from __future__ import annotations

from pathlib import Path

from hyflexpim.hw.results import HwResult
from hyflexpim.report.png import outside_legend, pyplot, save_png

_save = save_png


STYLES = [("o", "-"), ("s", "--"), ("D", ":"), ("^", "-."), ("v", "-"), ("P", "--"), ("*", ":"), ("X", "-.")]


def write_plots(results: list[HwResult], out: Path, title: str = "") -> list[Path]:
    """Throughput and TOPS/W against the sequence length, one line per design (each its own marker and dash, so
    designs that coincide stay visible), legends outside the axes; and the energy breakdown."""
    plt = pyplot()
    out = Path(out)
    paths = []
    title = title or results[0].model or ""
    modes = len({r.mode for r in results}) > 1  # a decoder's prefill and generation: label each line

    def design(r: HwResult) -> str:
        return f"{r.spec}" + (f" [{r.mode}]" if modes else "")

    for metric, label, name in (("throughput_tok_s", "throughput (tokens/s)", "throughput_vs_seq.png"),
                                ("tops_per_w", "energy efficiency (TOPS/W)", "efficiency_vs_seq.png")):
        fig, ax = plt.subplots(figsize=(7.5, 4))
        for i, r in enumerate(results):
            marker, dash = STYLES[i % len(STYLES)]
            ax.plot(r.seq_lens, getattr(r, metric), marker=marker, ls=dash, ms=7 - 0.5 * (i % 4), alpha=0.85,
                    label=design(r) + (f" ({r.slc_rate:g} % SLC)" if r.key == "hyflexpim"
                                       and r.slc_rate is not None else ""))
        ax.set_xscale("log", base=2)
        ax.set_xticks(results[0].seq_lens, [str(L) for L in results[0].seq_lens])
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, which="both")
        outside_legend(ax)
        paths.append(_save(fig, out / name))

    pim = [r for r in results if r.energy_by_role_j]
    fig, axes = plt.subplots(1, len(pim), figsize=(3.6 * len(pim), 3.8), sharey=True, squeeze=False)
    for ax, r in zip(axes[0], pim):
        x = [str(L) for L in r.seq_lens]
        bottom = [0.0] * len(x)
        total = r.energy_per_inference_j
        for cat, vals in r.energy_by_component_j.items():
            vals = [100 * v / t for v, t in zip(vals, total)]
            ax.bar(x, vals, bottom=bottom, label=cat)
            bottom = [b + v for b, v in zip(bottom, vals)]
        e = r.energy_per_token_j
        ax.set_title(f"{design(r)}\n{e[0] * 1e6:.3g} .. {e[-1] * 1e6:.3g} uJ/token", fontsize=7)
        ax.set_xlabel("sequence length")
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].set_ylabel("share of energy per inference (%)")
    outside_legend(axes[0][-1])
    paths.append(_save(fig, out / "energy_breakdown.png"))
    return paths


def plot_gain_vs_slc(table: list[dict], path: Path, title: str) -> Path:
    """HyFlexPIM's throughput and TOPS/W gain over all-SLC against the SLC share of weights, per length."""
    plt = pyplot()
    hy = [r for r in table if r["design"] == "hyflexpim"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, metric, label in ((axes[0], "throughput_vs_all_slc", "throughput gain over all-SLC"),
                              (axes[1], "efficiency_vs_all_slc", "TOPS/W gain over all-SLC")):
        modes = sorted({r.get("mode") for r in hy}, key=str)
        for mode in modes:
            for L in sorted({r["seq_len"] for r in hy}):
                pts = sorted((r["slc_weight_fraction"] * 100, r[metric]) for r in hy
                             if r["seq_len"] == L and r.get("mode") == mode)
                ax.plot(*zip(*pts), marker="o", ls="-" if mode != "prefill" else "--",
                        label=f"L={L}" + (f" {mode}" if len(modes) > 1 else ""))
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xlabel("SLC share of weights (%)")
        ax.set_ylabel(label)
    axes[0].set_title(title, fontsize=9)
    outside_legend(axes[1])
    return save_png(fig, path)
