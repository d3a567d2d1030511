"""Atomic file writes: a result file is either whole or absent."""

import os
import tempfile
from pathlib import Path

from hyflexpim.errors import UserError


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write through a temporary file in the same folder and rename, so no half file is ever seen."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "wb" if isinstance(text, bytes) else "w"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, mode) as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    return path
