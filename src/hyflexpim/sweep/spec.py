"""A sweep file: a base run configuration plus a grid (and/or a list) of overrides; each cell is an ordinary run.

```yaml
name: noise-x-encoding
base: {data: {max_train: 2000}}        # any run-config fields (or base_config: run.yaml, decoder: true)
grid:                                   # every combination; keys are field paths as in --set
  hardware.noise: [{kind: paper}, {kind: levels}]
  hardware.encoding: [twos_complement, differential]
  seed: [0, 1, 2]
cells:                                  # optional: explicit cells (crossed with the grid), each with a name
  - {name: slc-ideal, hardware.noise: {kind: levels, slc: {ideal: true}}}
```

Every cell's configuration is resolved and validated when the sweep is loaded, before anything runs: a bad
value is one line naming the cell and the field.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from hyflexpim.config import Strict, deep_merge, load_yaml, validate
from hyflexpim.errors import UserError
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.resolve import nest, resolve_config

NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class SweepConfig(Strict):
    config_name = "sweep"
    name: str = Field("sweep", pattern=NAME, description="the sweep's name (its folder: runs/sweep-<name>)")
    out: str | None = Field(None, description="the sweep folder (default runs/sweep-<name>); cells go in <out>/cells/")
    base_config: str | None = Field(None, description="a run configuration YAML the cells start from (relative to "
                                                      "the sweep file)")
    decoder: bool = Field(False, description="start from the decoder defaults (SmolLM2 on Wikipedia)")
    base: dict = Field(default_factory=dict, description="run-config fields every cell shares")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="field path -> values; every combination")
    cells: list[dict] = Field(default_factory=list, description="explicit cells: field path -> value, and a 'name'")
    reference: str | None = Field(None, description="the cell every other cell is compared with, point by point "
                                                    "(paired differences; default: the first cell)")
    cpus_per_cell: int = Field(1, ge=1, le=1024, description="CPU cores each cell asks Ray for, and its torch threads")
    gpus_per_cell: float = Field(0, ge=0, le=64, description="GPUs each cell asks Ray for (Accelerate uses them)")

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict) -> dict:
        for key, values in v.items():
            if not values:
                raise ValueError(f"grid field {key} has no values")
        return v

    @field_validator("cells")
    @classmethod
    def _cells(cls, v: list) -> list:
        for c in v:
            if "name" in c and not (isinstance(c["name"], str) and re.match(NAME, c["name"])):
                raise ValueError(f"a cell name must be letters, digits, '_', '.', '-' (at most 64); got {c['name']!r}")
        return v


@dataclass
class Cell:
    name: str
    overrides: dict  # field path -> value, what this cell changes against the base
    config: RunConfig

    @property
    def digest(self) -> str:
        """Identity of the cell's whole resolved configuration (a finished cell with another digest is re-run)."""
        return hashlib.sha256(self.config.model_dump_json().encode()).hexdigest()[:12]


def _short(value) -> str:
    if isinstance(value, dict):
        return value.get("kind") or "-".join(f"{k}-{_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "-".join(_short(v) for v in value)
    return str(value)


def cell_name(overrides: dict, varied: list[str]) -> str:
    """A readable, file-safe folder name from the values that vary (the last part of each field path)."""
    parts = [f"{k.rsplit('.', 1)[-1]}={_short(overrides[k])}" for k in varied if k in overrides]
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", "_".join(parts)) or "base"
    if len(name) > 80:
        name = name[:68] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def expand(sweep: SweepConfig, root: Path, base_dir: Path | None = None) -> list[Cell]:
    """Every cell of the sweep, its configuration resolved and validated, its run folder under ``root/cells``."""
    keys = list(sweep.grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(sweep.grid[k] for k in keys))] or [{}]
    listed = sweep.cells or [{}]
    base_file = None
    if sweep.base_config:
        base_file = Path(sweep.base_config)
        if not base_file.is_absolute() and base_dir is not None:
            base_file = base_dir / base_file
    varied_list = sorted({k for c in listed for k in c if k != "name"}, key=lambda k: k)
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for i, (extra, combo) in enumerate(itertools.product(listed, combos)):
        extra = dict(extra)
        given = extra.pop("name", None)
        flat = {**extra, **combo}
        if "out" in flat:
            raise UserError(f"sweep cell {i}: 'out' is set by the sweep (each cell runs in <sweep out>/cells/<name>)")
        name = "_".join(x for x in (given, cell_name(combo, keys) if combo else None) if x) \
            or cell_name(extra, varied_list)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}-{seen[name]}"
        overrides = deep_merge(nest(sweep.base, "sweep base:"), nest(flat, f"sweep cell {name}:"))
        overrides["out"] = str((root / "cells" / name).resolve())
        try:
            config = resolve_config(str(base_file) if base_file else None, sweep.decoder, overrides)
        except UserError as e:
            raise UserError(f"sweep cell {name}: {e}") from None
        cells.append(Cell(name, flat, config))
    if sweep.reference is not None and sweep.reference not in {c.name for c in cells}:
        raise UserError(f"sweep file: reference: no cell is named {sweep.reference!r} (cells: "
                        + ", ".join(c.name for c in cells[:6]) + (", …" if len(cells) > 6 else "") + ")")
    return cells


def load_sweep(path: str | Path) -> tuple[SweepConfig, Path, list[Cell]]:
    """The sweep file, its folder and its cells (all validated)."""
    path = Path(path)
    data = load_yaml(path, "sweep file")
    sweep = validate(SweepConfig, data, "sweep file")
    root = Path(sweep.out) if sweep.out else Path("runs") / f"sweep-{sweep.name}"
    return sweep, root, expand(sweep, root, path.parent)

