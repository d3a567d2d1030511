"""Run a sweep's cells: on Ray (embedded on this machine by default, or an existing cluster with ``address``), or
one after another in this process. The same functions (``sweep.cell``) run either way, each cell pinned to the same
number of torch threads, so the results are bit-identical.

Each common prefix of steps gets one task (the FP32 model, shared by every group with the same pre-finetune key);
each group of cells that shares its models gets one task for its shared steps, depending on its prefix's; its cells
depend on it. A finished
cell (``sweep_cell.json`` with the same configuration digest) is skipped, so a re-run after an interruption finishes
only the missing cells; a failing cell is reported and the others go on.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from hyflexpim.errors import UserError
from hyflexpim.sweep.cell import (
    PREFIX,
    finished,
    group_key,
    needs,
    prefix_key,
    prepare_prefix,
    prepare_shared,
    run_cell,
)
from hyflexpim.sweep.spec import Cell, SweepConfig

Say = Callable[[str], None]


@dataclass
class Group:
    key: str
    folder: Path
    config: dict  # the first cell's configuration (the models it makes are every member's)
    pairs: list[tuple[str, str]]
    cells: list[Cell]
    prefix: Path | None = None  # the shared prefix's folder (the FP32 model), None: none to share


def prefixes(todo: list[Group]) -> dict[Path, dict]:
    """The shared prefixes the groups start from: folder -> the configuration that makes it (the first group's)."""
    out: dict[Path, dict] = {}
    for g in todo:
        if g.prefix is not None:
            out.setdefault(g.prefix, g.config)
    return out


def groups(cells: list[Cell], root: Path) -> list[Group]:
    """The cells still to run, grouped by the models they share."""
    out: dict[str, Group] = {}
    for c in cells:
        if finished(Path(c.config.out), c.digest):
            continue
        key = group_key(c.config)
        pre = prefix_key(c.config)
        g = out.setdefault(key, Group(key, (root / "shared" / key).resolve(), c.config.model_dump(mode="json"), [], [],
                                      (root / "shared" / PREFIX / pre).resolve() if pre else None))
        g.pairs = sorted(set(g.pairs) | set(needs(c.config)))
        g.cells.append(c)
    return list(out.values())


def ray_available() -> bool:
    """Whether Ray is installed (without importing it: its settings are read from the environment at import)."""
    return importlib.util.find_spec("ray") is not None


def check_address(address: str, seconds: float = 5.0) -> None:
    """A cluster address that nothing answers is one line now, not minutes of Ray's retries; the cluster's token
    is presented when Ray is started (``ray_driver_env``)."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UserError(f"--address must be auto, host:port or ray://host:port, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            pass
    except OSError as e:
        raise UserError(f"--address {address}: nothing answers there ({e.strerror or e}); start a cluster with "
                        "`ray start --head`, or leave --address out to run on Ray embedded here") from None


def ray_driver_env(address: str | None, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What the sweep adds to ``env`` for Ray's driver: no usage report unless the user asks (an offline tool), and,
    for a cluster, its token: ``ray start`` enables token authentication by default, while a driver connects without
    a token unless RAY_AUTH_MODE=token; where the user left RAY_AUTH_MODE unset and a token is at hand
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, which ``ray start`` writes), the sweep presents it."""
    extra = {} if "RAY_USAGE_STATS_ENABLED" in env else {"RAY_USAGE_STATS_ENABLED": "0"}
    if address is not None and "RAY_AUTH_MODE" not in env:
        path = Path(env.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
        if env.get("RAY_AUTH_TOKEN") or path.is_file():
            extra["RAY_AUTH_MODE"] = "token"
    return extra


@contextmanager
def process_env(extra: Mapping[str, str]) -> Iterator[None]:
    """``extra`` in this process's environment while the block runs, the previous values restored after. Ray's
    driver needs the process environment here: it reads RAY_USAGE_STATS_ENABLED and RAY_AUTH_MODE from it (at
    import and in ``ray.init``, which takes no argument for either; a ``runtime_env`` reaches the workers only)."""
    before = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_local(todo: list[Group], sweep: SweepConfig, say: Say, progress: bool, bar) -> list[dict]:
    records = []
    made = {}
    for folder, config in prefixes(todo).items():
        say(f"shared FP32 model for {sum(g.prefix == folder for g in todo)} group(s): {folder}")
        made[folder] = prepare_prefix(config, str(folder), sweep.cpus_per_cell)
    for g in todo:
        say(f"shared steps for {len(g.cells)} cell(s) (models and importance): {g.folder}")
        shared = prepare_shared(g.config, str(g.folder), g.pairs, sweep.cpus_per_cell, made.get(g.prefix))
        for c in g.cells:
            rec = run_cell(c.name, c.config.model_dump(mode="json"), c.digest, shared, sweep.cpus_per_cell,
                           progress=progress, say=say if progress else None)
            records.append(rec)
            bar(rec)
    return records


def run_ray(todo: list[Group], sweep: SweepConfig, address: str | None, say: Say, bar) -> list[dict]:
    with process_env(ray_driver_env(address)):  # the driver's settings, for this Ray session only
        return _run_ray(todo, sweep, address, say, bar)


def _run_ray(todo: list[Group], sweep: SweepConfig, address: str | None, say: Say, bar) -> list[dict]:
    import ray  # optional dependency (the [sweep] extra), and it reads its settings from the environment at import

    if address is None:  # embedded: a new local instance with this machine's cores (never a running cluster's)
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 configure_logging=False, object_store_memory=256 * 2**20)
        where = f"embedded Ray, {os.cpu_count()} CPUs"
    else:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(f"--address {address}: no Ray cluster answered ({str(e).splitlines()[0][:200]}); start one "
                            "with `ray start --head`, or leave --address out to run on embedded Ray") from None
        where = f"Ray cluster at {address}, {int(ray.cluster_resources().get('CPU', 0))} CPUs"
    say(f"running {sum(len(g.cells) for g in todo)} cell(s) on {where}")
    opts = {"num_cpus": sweep.cpus_per_cell, "num_gpus": sweep.gpus_per_cell, "max_retries": 0}
    prefix_task = ray.remote(**opts)(prepare_prefix)
    shared_task = ray.remote(**opts)(prepare_shared)
    cell_task = ray.remote(**opts)(run_cell)
    names = {}
    try:
        made = {folder: prefix_task.remote(config, str(folder), sweep.cpus_per_cell)
                for folder, config in prefixes(todo).items()}
        for g in todo:
            shared = shared_task.remote(g.config, str(g.folder), g.pairs, sweep.cpus_per_cell, made.get(g.prefix))
            for c in g.cells:
                ref = cell_task.remote(c.name, c.config.model_dump(mode="json"), c.digest, shared, sweep.cpus_per_cell)
                names[ref] = c
        pending, records = list(names), []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            c = names[done[0]]
            try:
                rec = ray.get(done[0])
            except ray.exceptions.RayError as e:  # the worker died (killed, out of memory): this cell only
                rec = {"name": c.name, "digest": c.digest, "folder": c.config.out, "status": "failed",
                       "error": f"Ray task failed: {str(e).splitlines()[0][:300]}"}
            records.append(rec)
            bar(rec)
        return records
    finally:
        ray.shutdown()


def run_cells(sweep: SweepConfig, root: Path, cells: list[Cell], use_ray: bool, address: str | None, say: Say,
              progress: bool) -> list[dict]:
    """Every cell's record, in the sweep's order (finished ones from their folders)."""
    todo = groups(cells, root)
    skipped = len(cells) - sum(len(g.cells) for g in todo)
    if skipped:
        say(f"{skipped} of {len(cells)} cells already finished: skipped")
    with tqdm(total=len(cells), initial=skipped, desc="sweep cells", unit="cell", disable=not progress,
              position=0) as t:
        write = (lambda m: t.write(m)) if progress else say

        def bar(rec: dict) -> None:
            t.update(1)
            if rec["status"] == "failed":
                write(f"cell {rec['name']} failed: {rec['error']}")
            else:
                write(f"cell {rec['name']} done in {rec.get('seconds', 0):.0f} s")

        if use_ray and todo:
            records = run_ray(todo, sweep, address, write, bar)
        elif todo:
            records = run_local(todo, sweep, write, progress, bar)
        else:
            records = []
    by_name = {r["name"]: r for r in records}
    out = []
    for c in cells:
        rec = by_name.get(c.name) or finished(Path(c.config.out), c.digest)
        out.append(rec | {"skipped": c.name not in by_name} if rec else
                   {"name": c.name, "status": "failed", "error": "not run", "folder": c.config.out})
    return out
