"""Peak memory of the decomposed model / the original (goal <= 1.1).

Each measurement runs in a fresh process (peak resident memory is per process): one loads the
model, one loads and decomposes it at the hard-threshold rank. Reported: parameter bytes and the
peak RSS above a process that only imports torch and transformers.

    python benchmarks/bench_memory.py [--model minilm] [--model smollm2]
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import torch, transformers
from hyflexpim.models.load import load_model
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mode, name = sys.argv[1], sys.argv[2]
if mode != "imports":
    model, _ = load_model(name, "classification" if name == "minilm" else "lm")
    if mode == "decomposed":
        from hyflexpim import decompose
        decompose(model)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
else:
    params = 0
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kb": base, "params": params}))
"""


def measure(mode, name):
    out = subprocess.run([sys.executable, "-c", CHILD, mode, name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=None)
    names = ap.parse_args().model or ["minilm"]
    for name in names:
        base = measure("imports", name)["peak_kb"]
        orig, dec = measure("original", name), measure("decomposed", name)
        po, pd = (orig["peak_kb"] - base) / 1024, (dec["peak_kb"] - base) / 1024
        print(f"{name}: parameters {orig['params'] / 2**20:.1f} MiB -> {dec['params'] / 2**20:.1f} MiB "
              f"(ratio {dec['params'] / orig['params']:.3f}); peak RSS above imports {po:.0f} MiB -> {pd:.0f} MiB "
              f"(ratio {pd / po:.3f}, goal <= 1.1)")


if __name__ == "__main__":
    main()
