"""One cell of a sweep, and the steps cells share. Both are plain functions of plain arguments, so the same code runs
in-process (one cell after another) and as Ray tasks (embedded or on a cluster).

Sharing: every common prefix of the declared steps (``pipeline.steps``) is made once. Cells whose FP32 model would
be the same (the pre-finetune step's derived key) share one ``<sweep>/shared/prefix/pre-finetune-<key>/``, whatever
they do after it; cells whose redistributed models and importance scores would be the same (the keys of the
redistribute and importance steps) form a group, made once in ``<sweep>/shared/<key>/``, seeded from its prefix.
Each folder is hard-linked (copied across file systems) into the next, and the group's into each cell's run folder,
where the ordinary run finds the files, checks their keys and reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from pathlib import Path

import torch

from hyflexpim.artefacts import SHARED_FOLDERS, SWEEP_CELL, SWEEP_RECORDS, RunFolder
from hyflexpim.atomic import write_atomic
from hyflexpim.config import validate
from hyflexpim.errors import UserError
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.curves import curves_of
from hyflexpim.pipeline.importance_step import importance
from hyflexpim.pipeline.model_steps import finetuned, redistributed
from hyflexpim.pipeline.run import Run
from hyflexpim.pipeline.runner import run_steps
from hyflexpim.pipeline.steps import digest, key
from hyflexpim.pipeline.workspace import release

DONE = SWEEP_CELL
RECORDS = SWEEP_RECORDS  # the evaluation records of the cell's run (for the paired differences between cells)
PREFIX = "prefix"  # <sweep>/shared/prefix/<step>-<key>/: the steps before a group's, made once for every group


def group_key(config: RunConfig) -> str:
    """Cells with equal keys share their models and importance scores (the importance step's derived key)."""
    return hashlib.sha256(json.dumps(key(config, "importance"), sort_keys=True).encode()).hexdigest()[:12]


def prefix_key(config: RunConfig) -> str | None:
    """Cells with equal keys share their FP32 model (the pre-finetune step's derived key); None: the run trains no
    FP32 model (``pre_finetune: null``), so there is nothing to share before the group."""
    return None if config.pre_finetune is None else f"pre-finetune-{digest(config, 'pre-finetune')}"


def needs(config: RunConfig) -> list[tuple[str, str]]:
    """The (variant, scorer) importance scores a cell's run reads."""
    return sorted({(v, s) for v, s, _, _ in curves_of(config)})


def _threads(n: int) -> int:
    """Pin torch to ``n`` threads (the cell's cores, the same in-process and on Ray: bit-identical results);
    returns the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


def prepare_prefix(config: dict, folder: str, threads: int) -> dict:
    """Make the FP32 model shared by every group with this pre-finetune key in ``folder``; never raises (as
    ``prepare_shared``)."""
    return _prepare(config, folder, [], threads, None, prefix_only=True)


def prepare_shared(config: dict, folder: str, pairs: list, threads: int, prefix: dict | None = None) -> dict:
    """Make a group's models and importance scores in ``folder`` (resumable: a finished step is reused), starting
    from the shared prefix's folder (``prepare_prefix``'s record) when given. Never raises: ``{"folder": ...,
    "error": None or one line}`` (the group's cells then fail with that line)."""
    return _prepare(config, folder, pairs, threads, prefix)


def _prepare(config: dict, folder: str, pairs: list, threads: int, prefix: dict | None,
             prefix_only: bool = False) -> dict:
    if prefix and prefix.get("error"):
        return {"folder": folder, "error": prefix["error"]}
    lines: list[str] = []
    before = _threads(threads)
    error = None
    try:
        cfg = validate(RunConfig, config | {"out": folder}, "shared steps")
        if prefix:
            Path(folder).mkdir(parents=True, exist_ok=True)
            seed_cell(Path(prefix["folder"]), Path(folder))
        run = Run.open(cfg, say=lines.append, progress=False)
        if prefix_only:
            finetuned(run)
        else:
            redistributed(run)
            for variant, scorer in pairs:
                importance(run, variant, scorer)
    except UserError as e:
        error = str(e)
    except Exception as e:  # reported on every cell of the group
        error = f"unexpected {type(e).__name__}: {str(e)[:300]}"
        lines.append("".join(traceback.format_exception(e)))
    finally:
        _threads(before)
        release(Path(folder))
        if Path(folder).is_dir():
            write_atomic(RunFolder(folder).shared_log, "\n".join(lines) + "\n")
    return {"folder": folder, "error": error}


def seed_cell(shared: Path, cell: Path) -> int:
    """Hard-link the shared models and scores into a cell's run folder (copy where links fail); returns how many."""
    n = 0
    for sub in SHARED_FOLDERS:
        for src in sorted((shared / sub).glob("*")):
            if not src.is_file() or src.name.startswith("."):
                continue
            dst = cell / sub / src.name
            if dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
            n += 1
    return n


def finished(cell_dir: Path, digest: str) -> dict | None:
    """The record of a finished cell with this configuration, or None."""
    path = RunFolder(cell_dir).sweep_cell
    if not path.exists():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return rec if rec.get("digest") == digest and rec.get("status") == "done" else None


def run_cell(name: str, config: dict, digest: str, shared: dict | None, threads: int, progress: bool = False,
             say=None) -> dict:
    """Run one cell as an ordinary run in its own folder; never raises: a failure is returned (and logged in the
    cell's folder) so that the other cells go on. Returns the cell's record (its results are in its folder)."""
    cell_dir = Path(config["out"])
    started = time.perf_counter()
    done = finished(cell_dir, digest)
    if done is not None:
        return done | {"skipped": True}
    lines: list[str] = []

    def log(message: str) -> None:
        lines.append(message)
        if say is not None:
            say(f"[{name}] {message}")

    rec = {"name": name, "digest": digest, "folder": str(cell_dir)}
    if shared and shared.get("error"):
        return rec | {"status": "failed", "error": f"shared steps: {shared['error']}"}
    before = _threads(threads)
    try:
        cfg = validate(RunConfig, config, f"sweep cell {name}")
        cell_dir.mkdir(parents=True, exist_ok=True)
        if shared:
            seed_cell(Path(shared["folder"]), cell_dir)
        run = Run.open(cfg, say=log, progress=progress)
        outcome = run_steps(run)
        records = outcome.evaluated.records if outcome is not None else []
        write_atomic(RunFolder(cell_dir).sweep_records, "".join(json.dumps(r) + "\n" for r in records))
        rec.update(status="done", seconds=round(time.perf_counter() - started, 1))
        write_atomic(RunFolder(cell_dir).sweep_cell, json.dumps(rec, indent=1))
    except UserError as e:
        rec.update(status="failed", error=str(e))
    except Exception as e:  # one failing cell must not stop the sweep
        rec.update(status="failed", error=f"unexpected {type(e).__name__}: {str(e)[:300]}")
        lines.append("".join(traceback.format_exception(e)))
    finally:
        _threads(before)

        release(cell_dir)
        if cell_dir.is_dir():
            write_atomic(RunFolder(cell_dir).sweep_log, "\n".join(lines) + "\n")
    return rec
