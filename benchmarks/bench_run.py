"""Wall time of the default `hyflexpim run` on this machine (goal <= 15 min on 2 CPU cores).

Runs the command exactly as the README gives it, in a fresh output folder, and prints the time.
The packaged SmolLM2 conversion is not part of it (the default run uses MiniLM-L6).

    python benchmarks/bench_run.py [--out /tmp/bench-run]
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/hyflexpim-bench-run")
    ap.add_argument("extra", nargs="*", help="extra arguments for hyflexpim run (e.g. --decoder)")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    cmd = [sys.executable, "-m", "hyflexpim.cli.main", "run", "--out", args.out, "-q", *args.extra]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    minutes = (time.perf_counter() - t) / 60
    print(f"`hyflexpim run {' '.join(args.extra)}` wall time: {minutes:.1f} min (goal <= 15 min); "
          f"results in {Path(args.out) / 'results.csv'}")


if __name__ == "__main__":
    main()
