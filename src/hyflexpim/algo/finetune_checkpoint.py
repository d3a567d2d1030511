"""Training checkpoints for ``algo.finetune``: a run interrupted after a checkpoint resumes to the same final weights.

A checkpoint holds the model, optimizer and scheduler states, every random stream (torch CPU and CUDA, NumPy,
Python), the losses so far and the data position (the number of steps done: on resume the batches already used
are drawn again and skipped, so any sampler — seeded, length-grouped, through Accelerate — continues where it
was). It is written atomically (``hyflexpim.atomic``) every ``every`` steps and at the end, and read with
``weights_only=True``. A ``fingerprint`` (the training's settings and data) is stored with it: a checkpoint of
other settings is refused, never silently continued.

    finetune(model, batches, cfg, checkpoint=Checkpointing(path=Path("run/train.ckpt"), every=100))
"""

from __future__ import annotations

import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hyflexpim.atomic import atomic_path
from hyflexpim.errors import UserError


@dataclass
class Checkpointing:
    path: Path
    every: int | None = None  # steps between checkpoints; None: once per epoch
    fingerprint: dict = field(default_factory=dict)  # the settings and data a resumed run must share


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos),
                                                        int(has_gauss), float(gauss)],
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(ck: Checkpointing, model, optimizer, scheduler, steps: int, total: int, losses: list[float]):
    state = {"steps": steps, "total": total, "losses": list(losses), "fingerprint": ck.fingerprint,
             "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "rng": _rng_state()}
    with atomic_path(Path(ck.path)) as tmp:
        torch.save(state, tmp)


def load_checkpoint(ck: Checkpointing, total: int) -> dict | None:
    """The checkpoint's state, or None when there is none; a checkpoint of other settings is a one-line error."""
    path = Path(ck.path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as e:  # a half or foreign file
        raise UserError(f"cannot read training checkpoint {path}: {str(e).splitlines()[0]} (delete it to start "
                        "over)") from None
    if state.get("fingerprint") != ck.fingerprint or state.get("total") != total:
        raise UserError(f"training checkpoint {path} is of other settings or data (delete it to start over)")
    return state
