"""Peak memory of decomposition / the model's own (goal <= 1.1).

Each measurement runs in a fresh process (peak resident memory is per process), and reports the peak RSS
above a process that only imports torch and transformers:

- ``model``: the model loaded and every parameter read once (a loaded model's weights are memory-mapped and
  become resident as they are used; any use reads them all) — the model's own memory;
- ``in-place``: the model loaded, then ``decompose(model)`` (the SVD of each matrix from the loaded weights);
- ``checkpoint``: ``decompose_model_folder`` — the model built without weights, each matrix read alone from the
  checkpoint and decomposed, the SVD's temporaries released after each (hyflexpim.algo.decompose_checkpoint).

    python benchmarks/bench_memory.py [--model minilm] [--model smollm2] [--model path/to/model.gguf]
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import torch, transformers
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mode, name = sys.argv[1], sys.argv[2]
task = "classification" if name == "minilm" else "lm"
params = 0
if mode == "prepare":  # a GGUF is de-quantized once into the cache, before anything is measured
    from hyflexpim.models.load import resolve
    resolve(name)
elif mode in ("model", "in-place"):
    from hyflexpim.models.load import load_model
    model, _ = load_model(name, task)
    if mode == "in-place":
        from hyflexpim import decompose
        decompose(model)
    with torch.no_grad():
        touched = sum(float(p.float().sum()) if p.numel() < 2**24 else float(p.sum()) for p in model.parameters())
    params = sum(p.numel() * p.element_size() for p in model.parameters())
elif mode == "checkpoint":
    from hyflexpim.algo.decompose_checkpoint import decompose_model_folder
    model, _ = decompose_model_folder(name, task)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kb": base, "params": params}))
"""


def measure(mode, name):
    out = subprocess.run([sys.executable, "-c", CHILD, mode, name], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{mode} {name} failed: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=None)
    names = ap.parse_args().model or ["minilm"]
    for name in names:
        measure("prepare", name)
        base = measure("imports", name)["peak_kb"]
        own, inplace, ckpt = (measure(m, name) for m in ("model", "in-place", "checkpoint"))
        mib = {k: (v["peak_kb"] - base) / 1024 for k, v in (("own", own), ("in", inplace), ("ck", ckpt))}
        print(f"{name}: parameters {own['params'] / 2**20:.1f} MiB -> {ckpt['params'] / 2**20:.1f} MiB decomposed "
              f"(ratio {ckpt['params'] / own['params']:.3f}); peak RSS above imports: the model {mib['own']:.0f} MiB, "
              f"decomposition in place {mib['in']:.0f} MiB (ratio {mib['in'] / mib['own']:.2f}), from the checkpoint "
              f"{mib['ck']:.0f} MiB (ratio {mib['ck'] / mib['own']:.2f}, goal <= 1.1)")


if __name__ == "__main__":
    main()
