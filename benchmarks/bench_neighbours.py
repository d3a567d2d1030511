"""Slowdown of the default fine-tune with busy neighbours on the same machine (prints ratios; goal ≤ 2× on 2 cores).

    .venv/bin/python benchmarks/bench_neighbours.py [--steps 20] [--neighbours 2] [--kind python|torch]
                                                   [--repeats 1] [--legacy]

The first ``--steps`` steps of the default run's FP32 fine-tune (MiniLM-L6 on rotten_tomatoes, the default
batches), each in a fresh child process that sets its threads as ``hyflexpim`` does at start
(``hyflexpim.cli.threads.configure``: the CPUs this process may use, sleeping waits). Timed: the median step
(the first 2 steps, warm-up, left out) and the total of the steps. Once alone, once with ``--neighbours`` busy
processes started beside it: ``python`` (default) a single-threaded busy loop each; ``torch`` a process doing
what the child does (another fine-tune) with torch's own defaults. Alone and crowded runs alternate
``--repeats`` times; medians. ``--legacy`` times the child as before (torch's defaults: one spinning OpenMP
thread per core of the machine) beside the configured one.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, os, sys, time
legacy = sys.argv[1] == "legacy"
if not legacy:
    from hyflexpim.cli.threads import configure
    configure()
import torch
from hyflexpim.algo.finetune import finetune
from hyflexpim.pipeline.resolve import resolve_config
from hyflexpim.pipeline.model_steps import base
from hyflexpim.pipeline.run import Run
steps = int(sys.argv[2])
cfg = resolve_config(None, False, {"out": sys.argv[3]})
run = Run.open(cfg, say=lambda *_: None, progress=False)
model = base(run)
batches = run.task.batches("train", shuffle=True, seed=cfg.seed)
marks = []
finetune(model, batches, cfg.pre_finetune.model_copy(update={"max_steps": steps}), "bench", False,
         on_step=lambda s, t: marks.append(time.perf_counter()))
marks.append(time.perf_counter())
d = [b - a for a, b in zip(marks, marks[1:])]
print(json.dumps({"threads": torch.get_num_threads(), "median": sorted(d[2:])[len(d[2:]) // 2],
                  "total": marks[-1] - marks[0], "wait": os.environ.get("OMP_WAIT_POLICY")}))
"""

PY_BUSY = "while True: pass"
TORCH_BUSY = ("import torch\nx = torch.randn(256, 768); w = torch.randn(768, 3072, requires_grad=True)\n"
              "while True:\n    (x @ w).relu().sum().backward()\n")


def child(mode: str, steps: int, out: str) -> dict:
    env = dict(os.environ)
    if mode == "legacy":
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "HYFLEXPIM_THREADS"):
            env.pop(var, None)
    r = subprocess.run([sys.executable, "-c", CHILD, mode, str(steps), out], env=env, capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def crowded(mode: str, steps: int, out: str, n: int, kind: str) -> dict:
    code = PY_BUSY if kind == "python" else TORCH_BUSY
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    busy = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(n)]
    try:
        time.sleep(1.0)
        return child(mode, steps, out)
    finally:
        for p in busy:
            p.kill()
        for p in busy:
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--neighbours", type=int, default=2)
    ap.add_argument("--kind", choices=("python", "torch"), default="python")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--legacy", action="store_true", help="also time torch's defaults (spinning, one thread a core)")
    a = ap.parse_args()
    modes = ["configured"] + (["legacy"] if a.legacy else [])
    res = {(m, c): [] for m in modes for c in ("alone", "crowded")}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(a.repeats):
            for m in modes:
                res[m, "alone"].append(child(m, a.steps, out))
                res[m, "crowded"].append(crowded(m, a.steps, out, a.neighbours, a.kind))
    print(f"{os.cpu_count()} CPUs, affinity {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}; "
          f"{a.steps} fine-tune steps; {a.neighbours} {a.kind} neighbours; medians of {a.repeats}")
    for m in modes:
        alone, busy = res[m, "alone"], res[m, "crowded"]
        step = [statistics.median(r["median"] for r in x) for x in (alone, busy)]
        tot = [statistics.median(r["total"] for r in x) for x in (alone, busy)]
        print(f"{m:10s} ({alone[0]['threads']} threads, OMP_WAIT_POLICY={alone[0]['wait']}): step {step[0]:.2f} s "
              f"alone, {step[1]:.2f} s crowded: {step[1] / step[0]:.2f}× (total {tot[0]:.1f} → {tot[1]:.1f} s: "
              f"{tot[1] / tot[0]:.2f}×; goal ≤ 2)")


if __name__ == "__main__":
    main()
