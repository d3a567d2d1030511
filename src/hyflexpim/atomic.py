"""Atomic file writes: a result file is either whole or absent, with the user's usual permissions."""

import contextlib
import os
import tempfile
from pathlib import Path

from hyflexpim.errors import UserError


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    For writers that want a file name (safetensors, torch.save). The file gets the mode a plain
    ``open(path, "w")`` would give (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    try:
        yield Path(tmp)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write through a temporary file in the same folder and rename, so no half file is ever seen."""
    with atomic_path(Path(path)) as tmp, open(tmp, "wb" if isinstance(text, bytes) else "w") as f:
        f.write(text)
    return Path(path)


@contextlib.contextmanager
def exclusive(lock_file: Path):
    """Hold an exclusive lock (flock on ``lock_file``) while a shared cache entry is made: a second process
    that wants the same entry waits, then finds it made. No lock where the platform has none."""
    try:
        import fcntl  # POSIX only: imported where the lock is taken
    except ImportError:  # not POSIX
        yield
        return
    lock_file = Path(lock_file)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UserError(f"cannot write {lock_file}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
