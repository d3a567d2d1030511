"""The one PNG helper: matplotlib without a display, figures written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from hyflexpim.atomic import write_atomic


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib  # lazy: slow to import; only a figure needs it (and the backend is set first)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, dpi: int = 110, tight: bool = True) -> bytes:
    """``fig`` as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    pyplot().close(fig)
    return buf.getvalue()


def save_png(fig, path: Path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` as PNG (whole or absent) and close it."""
    return write_atomic(Path(path), png_bytes(fig, dpi, tight))


def outside_legend(ax, size: int = 7, **kw) -> None:
    """The legend to the right of the axes, so that it can never sit on data (save with ``tight=True``)."""
    ax.legend(fontsize=size, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, framealpha=0.9, **kw)
