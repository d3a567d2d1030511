"""The sweep verb: cells from a sweep file (or a ``SweepConfig``), run, combined, reported."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hyflexpim.atomic import write_atomic
from hyflexpim.errors import UserError
from hyflexpim.pipeline.workspace import lock_folder
from hyflexpim.report.html_run import write_report
from hyflexpim.sweep.combine import write_combined
from hyflexpim.sweep.compare import write_cell_differences
from hyflexpim.sweep.engine import check_address, ray_available, run_cells
from hyflexpim.sweep.spec import SweepConfig, expand, load_sweep


@dataclass
class SweepOutcome:
    folder: Path
    records: list[dict]
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] != "done"]

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


def run_sweep(sweep: str | Path | SweepConfig, ray: bool | None = None, address: str | None = None,
              out: str | Path | None = None, progress: bool = True, say: Callable[[str], None] = print) -> SweepOutcome:
    """Run every cell of ``sweep`` (a sweep YAML file or a ``SweepConfig``). ``ray``: None — on Ray when it is
    installed, else in-process; True — on Ray (required); False — in-process. ``address``: an existing Ray cluster
    ('auto', 'host:port' or 'ray://host:port'); None — Ray embedded on this machine."""
    started = time.perf_counter()
    if isinstance(sweep, SweepConfig):
        root = Path(out or sweep.out or Path("runs") / f"sweep-{sweep.name}")
        spec, cells = sweep, expand(sweep, root)
    else:
        spec, root, cells = load_sweep(sweep)
        if out:
            spec = spec.model_copy(update={"out": str(out)})
            root, cells = Path(out), expand(spec, Path(out), Path(sweep).parent)
    if address is not None and ray is False:
        raise UserError("--address runs the sweep on a Ray cluster: leave out --no-ray")
    if address is not None:
        check_address(address)
    if ray is None:
        ray = ray_available()
        if not ray:
            say("note: Ray is not installed (pip install 'hyflexpim[sweep]'): the cells run one after another here")
    elif ray and not ray_available():
        raise UserError("Ray is not installed: pip install 'hyflexpim[sweep]' (or run with --no-ray)")

    root.mkdir(parents=True, exist_ok=True)
    lock_folder(root)
    write_atomic(root / "sweep.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    write_atomic(root / "cells.json", json.dumps([{"name": c.name, "overrides": c.overrides, "digest": c.digest,
                                                   "folder": c.config.out} for c in cells], indent=1, default=str))
    say(f"sweep {spec.name}: {len(cells)} cells in {root / 'cells'}")
    records = run_cells(spec, root, cells, ray, address, say, progress)
    files = write_combined(root, cells, records) + write_cell_differences(root, cells, records, spec.reference)

    files.append(write_report([root]))
    return SweepOutcome(root, records, files, time.perf_counter() - started)
