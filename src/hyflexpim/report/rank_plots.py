"""Figure of learned ranks: the share of each matrix's full rank its learned rank keeps, per layer and role,
with the paper's hard-threshold rank k = d_out·d_in/(d_out+d_in) marked (and the rank at which the matrix alone
would meet the budget)."""

from __future__ import annotations

from pathlib import Path

from hyflexpim.plan import budget_rank, hard_threshold_rank
from hyflexpim.report.png import outside_legend, pyplot, save_png


def plot_learned_ranks(ranks: dict[str, int], matrices: dict[str, tuple[int | None, str, tuple[int, int]]],
                       path: Path, budget: float | None = None, title: str = "") -> Path:
    """``ranks``: module name -> learned rank; ``matrices``: module name -> (layer, role, (d_out, d_in))."""
    plt = pyplot()
    roles = sorted({matrices[n][1] for n in ranks}, key=lambda r: [m[1] for m in matrices.values()].index(r))
    layers = sorted({matrices[n][0] for n in ranks if matrices[n][0] is not None})
    width = 0.8 / max(len(roles), 1)
    fig, ax = plt.subplots(figsize=(max(7, 0.5 * len(layers) * len(roles) ** 0.5 + 3), 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, role in enumerate(roles):
        xs, ys, hard, even = [], [], [], []
        for name, r in ranks.items():
            layer, rl, shape = matrices[name]
            if rl != role or layer is None:
                continue
            full = min(shape)
            xs.append(layers.index(layer) + (j - (len(roles) - 1) / 2) * width)
            ys.append(r / full)
            hard.append(min(full, hard_threshold_rank(*shape)) / full)
            even.append(budget_rank(shape, budget) / full if budget else None)
        ax.bar(xs, ys, width * 0.9, color=colors[j % len(colors)], label=role)
        ax.scatter(xs, hard, marker="_", s=120, color="black", zorder=3,
                   label="hard threshold (paper)" if j == 0 else None)
        if budget:
            ax.scatter(xs, even, marker=".", s=30, color="dimgrey", zorder=3,
                       label=f"uniform at {budget:.0%} budget" if j == 0 else None)
    ax.set_xticks(range(len(layers)), [str(l) for l in layers])
    ax.set_xlabel("layer")
    ax.set_ylabel("learned rank / full rank")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    outside_legend(ax)
    return save_png(fig, path)
