"""The run folder: each step's output on disk, so a re-run skips what is done and an interrupted run resumes.

    out/
      config.yaml                 resolved configuration of the run
      models/finetuned.safetensors, models/redistributed.safetensors
      importance/<variant>.json   importance scores per matrix
      plans/<variant>-<scorer>-<policy>-slc<rate>.json
      evaluations.jsonl           one line per finished evaluation (the resume log)
      results.csv, results.json, accuracy_vs_slc.png, hw.csv, hw.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

from hyflexpim.artefacts import STEP_FOLDERS, RunFolder
from hyflexpim.atomic import atomic_path, write_atomic
from hyflexpim.boundary import load_safetensors_into
from hyflexpim.errors import UserError
from hyflexpim.report.results import record_problem

_HELD: dict[str, int] = {}  # run folder -> the descriptor of its lock, held by this process until it exits
_NEW: list[Path] = []  # run folders this process created (tidied away if a refusal leaves them empty)
_NOTED: set = set()
_OPENED: list[Path] = []  # every run folder this process opened  # (log, line) already reported as not used


def tidy_new_folders() -> None:
    """After a refused or crashed run: a run folder this process created and left without a result file goes again
    (its lock too), so bad input leaves nothing behind; a folder holding any file stays. Empty step folders go from
    every folder this process opened."""
    for root in _OPENED:
        for sub in STEP_FOLDERS:
            try:
                (root / sub).rmdir()  # only when empty
            except OSError:
                continue
    for root in _NEW:
        try:
            if any(p.is_file() and p.name != ".lock" for p in root.rglob("*")):
                continue
            for sub in STEP_FOLDERS:
                if (root / sub).is_dir():
                    (root / sub).rmdir()
            (root / ".lock").unlink(missing_ok=True)
            root.rmdir()
        except OSError:
            continue


def lock_folder(root: Path) -> None:
    """An exclusive lock on the run folder (``.lock``, flock): a second process writing into it is refused in one
    line naming the holder. Released when the process ends, however it ends; re-entrant within one process."""
    try:
        import fcntl  # POSIX only: a lock where it exists
    except ImportError:  # not POSIX: no lock
        return
    key = str(root.resolve())
    if key in _HELD:
        return
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise UserError(f"run folder {root} is in use by {holder}: wait for it to finish, "
                        "or give another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])[:200]})".encode(), 0)
    _HELD[key] = fd


def release(root: Path) -> None:
    """Give up this process's lock on a run folder (a sweep worker that runs many cells one after another)."""
    fd = _HELD.pop(str(Path(root).resolve()), None)
    if fd is not None:
        os.close(fd)


def launched_rank() -> tuple[int, int]:
    """(rank, world size) of this process under ``accelerate launch`` / torchrun (their environment), else (0, 1)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class Workspace:
    writes = True  # False: a follower process of a multi-process run, which reads the folder and writes nothing

    def __init__(self, out: str | os.PathLike):
        self.root = Path(out)
        new = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test."):
                pass
        except OSError as e:
            raise UserError(f"output folder {self.root} is not writable: {e.strerror}") from None
        lock_folder(self.root)
        _OPENED.append(self.root)
        if new:
            _NEW.append(self.root)
        # the step folders (models/, importance/, plans/) are made by their first file's atomic write, so a run that
        # stops early leaves no empty ones
        self.log = RunFolder(self.root).evaluations

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    # -- configuration ---------------------------------------------------------------------
    def write_config(self, config) -> None:
        write_atomic(RunFolder(self.root).config, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))

    # -- evaluation log ----------------------------------------------------------------------
    def done(self) -> dict[str, dict]:
        """Finished evaluations by key; a torn last line (interrupted write) is ignored, and a record that does not
        hold together (its key against its fields, its value against its range and its own per-example outcomes:
        ``report.results.record_problem``) is left out — measured again — with one note saying why."""
        out = {}
        if self.log.exists():
            for i, line in enumerate(self.log.read_text(errors="replace").splitlines(), start=1):
                try:
                    rec = json.loads(line, parse_constant=lambda c: None)
                except (json.JSONDecodeError, ValueError, RecursionError):
                    continue
                problem = record_problem(rec)
                if problem is None:
                    out[rec["key"]] = rec
                elif rec is not None and line.strip() and (self.log, i) not in _NOTED:
                    _NOTED.add((self.log, i))
                    print(f"note: {self.log} line {i} is not used ({problem}): that evaluation is measured again",
                          file=sys.stderr)
        return out

    def forget(self, variants: set[str]) -> int:
        """Drop the evaluations of ``variants`` from the log (their model changed); returns how many went."""
        if not self.log.exists():
            return 0
        keep, gone = [], 0
        for line in self.log.read_text().splitlines():
            try:
                stale = json.loads(line).get("variant") in variants
            except (json.JSONDecodeError, AttributeError):
                stale = False
            gone += stale
            if not stale and line.strip():
                keep.append(line)
        write_atomic(self.log, "".join(line + "\n" for line in keep))
        return gone

    def record(self, rec: dict) -> None:
        """Append one finished evaluation; after a torn last line (an interrupted write) it starts a new line."""
        torn = False
        if self.log.exists() and self.log.stat().st_size:
            with open(self.log, "rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
        with open(self.log, "a") as f:
            f.write(("\n" if torn else "") + json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # -- model weights -------------------------------------------------------------------------
    def save_model(self, model, name: str) -> Path:
        from safetensors.torch import save_model  # lazy: the run folder is read without torch (sweeps, reports)

        target = RunFolder(self.root).model(name)
        with atomic_path(target) as tmp:
            save_model(model, str(tmp))
        return target

    def has_model(self, name: str) -> bool:
        return RunFolder(self.root).model(name).exists()

    def save_tensors(self, obj: dict, path: Path) -> Path:
        """A dict of tensors and plain values through torch.save, atomically (read back with weights_only)."""
        import torch  # lazy: the run folder is read without torch (sweeps, reports)

        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
        return path

    def load_into(self, model, name: str) -> bool:
        target = RunFolder(self.root).model(name)
        if not target.exists():
            return False
        load_safetensors_into(model, target, "cached model")
        return True


class FollowerWorkspace(Workspace):
    """The run folder as a process other than the main one of ``accelerate launch`` sees it: it reads the cached
    models the main process reads, takes no lock and writes nothing (the main process writes every file once)."""

    writes = False

    def __init__(self, out: str | os.PathLike):
        self.root = Path(out)
        self.log = RunFolder(self.root).evaluations

    def write_config(self, config) -> None:
        pass

    def record(self, rec: dict) -> None:
        pass

    def save_model(self, model, name: str) -> Path:
        return RunFolder(self.root).model(name)

    def save_tensors(self, obj: dict, path: Path) -> Path:
        return path
