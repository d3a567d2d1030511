"""The one PNG helper: matplotlib without a display, figures written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from hyflexpim.atomic import write_atomic


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` as PNG (whole or absent) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    pyplot().close(fig)
    return write_atomic(Path(path), buf.getvalue())
