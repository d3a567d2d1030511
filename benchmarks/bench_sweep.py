"""Sweep wall time: Ray (embedded, one core per cell, cells side by side) against the same cells one after another
in-process — with one core per cell (the bit-identical setting) and with every core per cell (what a plain run
uses). Prints the measured times and ratios; on 2 cores the gain is small, the point of Ray is the cluster path.

    python benchmarks/bench_sweep.py            # ~24 min on 2 cores: MiniLM, small data, 2 noise models x 2 encodings
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CELLS = {"hardware.noise": [{"kind": "paper"}, {"kind": "levels"}],
         "hardware.encoding": ["twos_complement", "differential"]}
BASE = {"data": {"max_train": 256, "max_eval": 256, "batch_size": 32}, "pre_finetune": {"max_steps": 8},
        "redistribute": {"max_steps": 8}, "importance": {"batches": 4}, "plan": {"slc_rates": [0, 10, 100]},
        "noise_seeds": [0, 1, 2], "attention": {"enabled": False},
        "compare": {"no_redistribution": False, "magnitude": False, "singular_value_rates": [], "random_rates": []}}


def sweep(folder: Path, name: str, cpus: int, ray: bool) -> tuple[float, Path]:
    spec = folder / f"{name}.yaml"
    spec.write_text(yaml.safe_dump({"name": name, "base": BASE, "grid": CELLS, "cpus_per_cell": cpus}))
    out = folder / name
    cmd = [sys.executable, "-m", "hyflexpim.cli.main", "sweep", str(spec), "--out", str(out), "-q"]
    t = time.perf_counter()
    r = subprocess.run(cmd + ([] if ray else ["--no-ray"]), capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{name} failed: {r.stderr[-2000:]}")
    return took, out


def means(out: Path) -> list[str]:
    with open(out / "sweep_results.csv") as f:
        return [row["mean"] for row in csv.DictReader(f)]


def main() -> None:
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seq1, a = sweep(folder, "in-process-1core", 1, False)
        seqn, _b = sweep(folder, f"in-process-{cores}cores", cores, False)
        ray1, c = sweep(folder, "ray-1core", 1, True)
        same = means(a) == means(c)
    n = len(CELLS["hardware.noise"]) * len(CELLS["hardware.encoding"])
    print(f"{n} cells (MiniLM-L6, 256 training / 256 test snippets, 3 SLC rates x 3 noise seeds), {cores} cores")
    print(f"in-process, 1 core per cell:        {seq1:7.1f} s")
    print(f"in-process, {cores} cores per cell:       {seqn:7.1f} s")
    print(f"embedded Ray, 1 core per cell:      {ray1:7.1f} s  (start-up of Ray and its workers included)")
    print(f"Ray / in-process (1 core per cell):  {ray1 / seq1:.2f}")
    print(f"Ray / in-process ({cores} cores per cell): {ray1 / seqn:.2f}")
    print(f"Ray and in-process tables bit-identical (1 core per cell): {same}")


if __name__ == "__main__":
    main()
