"""How many threads a hyflexpim process runs: what it may use, not what the machine has.

torch starts one OpenMP thread per core of the machine, and OpenMP threads spin while they wait. On a machine
shared with other jobs (or in a container given a CPU quota) that is more threads than the process gets cores,
and they spin against each other and against the neighbours: every step slows several-fold. Here the count is
the smallest of

- the CPUs this process may run on (``os.sched_getaffinity``: ``taskset``, ``docker --cpuset-cpus``, Slurm);
- the cgroup CPU quota, rounded down, at least 1 (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` /
  ``cpu.cfs_period_us``, along the process's cgroup path up to the mount root: ``docker --cpus``, Kubernetes
  limits);

unless ``--threads N``, ``HYFLEXPIM_THREADS=N`` or ``OMP_NUM_THREADS=N`` (in this order) names it. Waiting threads
sleep (``OMP_WAIT_POLICY=PASSIVE``, unless set already) instead of spinning.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path

from hyflexpim.errors import UserError

ENV = "HYFLEXPIM_THREADS"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _up_to(base: Path, rel: str):
    """``base/rel``, then each parent folder up to ``base`` itself (a quota set on a parent limits the child)."""
    parts = [p for p in rel.strip("/").split("/") if p and p != ".."]
    for i in range(len(parts), -1, -1):
        yield base.joinpath(*parts[:i])


def _v2_quota(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")
    if not text:
        return None
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_quota(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        q, p = float(quota), float(period)
    except (TypeError, ValueError):
        return None
    return q / p if q > 0 and p > 0 else None


def cgroup_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota of this process's cgroups in CPUs (``1.5``: one and a half cores), or None when unlimited
    or unknown. The smallest quota along the cgroup path counts."""
    text = _read(proc_cgroup)
    if text is None:
        return None
    found = []
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, rel = fields
        if controllers == "":  # cgroup v2 (unified)
            found += [_v2_quota(d) for d in _up_to(root, rel)]
            found += [_v2_quota(d) for d in _up_to(root / "unified", rel)]
        elif "cpu" in controllers.split(","):  # cgroup v1, mounted as cpu, cpu,cpuacct or cpuacct,cpu
            for mount in dict.fromkeys((root / controllers, root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu")):
                found += [_v1_quota(d) for d in _up_to(mount, rel)]
    found = [q for q in found if q is not None]
    return min(found) if found else None


def affinity_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_threads(affinity: int | None = None, quota: float | None = None, *, read_quota: bool = True) -> int:
    """Threads worth running: the CPUs this process may run on, capped by the cgroup quota (rounded down),
    at least 1."""
    n = affinity if affinity is not None else affinity_cpus()
    if quota is None and read_quota:
        quota = cgroup_cpus()
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)


def _parse(text: str, where: str) -> int:
    try:
        n = int(str(text).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise UserError(f"{where} must be a whole number of threads ≥ 1, got {text!r}")
    return n


def resolve_threads(option: int | None = None, environ=None, available=available_threads) -> tuple[int, str]:
    """(threads, where the number came from): ``--threads`` first, then ``HYFLEXPIM_THREADS``, then
    ``OMP_NUM_THREADS``, then what the process may use."""
    environ = os.environ if environ is None else environ
    if option is not None:
        return _parse(option, "--threads"), "--threads"
    if environ.get(ENV, "").strip():
        return _parse(environ[ENV], ENV), ENV
    if environ.get("OMP_NUM_THREADS", "").strip().isdigit() and int(environ["OMP_NUM_THREADS"]) >= 1:
        return int(environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    return available(), "CPU affinity and cgroup quota"


def configure(option: int | None = None, environ=None) -> int:
    """Set the thread count of this process (and of the processes it starts); returns it.

    Before torch is imported the OpenMP/MKL environment does it (torch reads it when it loads, and sleeping
    waits, ``OMP_WAIT_POLICY=PASSIVE``, only take effect then); after, ``torch.set_num_threads``."""
    environ = os.environ if environ is None else environ
    n, _ = resolve_threads(option, environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        environ[var] = str(n)
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
        with contextlib.suppress(RuntimeError):  # only possible before any inter-op work ran
            torch.set_num_interop_threads(n)
    return n
