"""Time of one noise-aware redistribution step against one plain step (prints the ratio; goal ≤ 1.15, the cost
of aihwkit-lightning's noise injection measured beside it, 1.14).

    .venv/bin/python benchmarks/bench_noise_aware.py [--batch 32] [--tokens 64] [--repeats 5]

MiniLM-L6 decomposed at the hard-threshold rank, a classification batch of ``--batch`` × ``--tokens`` tokens,
forward + backward + AdamW step. Noise-aware: every decomposed matrix's ΣVᵀ and U programmed through the run's
noise model (paper σ, two's complement, 2-bit MLC) each step (``hyflexpim.sim.noise_aware``: the paper's noise
drawn once per weight with the std of its INT8 code's cells, one ``randn`` per layer into a kept buffer — the
distribution of programming every cell, tested). Plain and
noise-aware steps alternate (one warm-up each; the noise-aware forward switched on and off between steps), so a
busy machine slows both alike; medians of ``--repeats`` steps each.
"""

import argparse
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()

    from hyflexpim.algo.decompose import decompose
    from hyflexpim.models.load import load_model
    from hyflexpim.sim.config import HardwareConfig
    from hyflexpim.sim.noise_aware import NoiseAwareConfig, noise_aware

    model, _ = load_model("minilm", "classification", 2)
    decompose(model)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    g = torch.Generator().manual_seed(0)
    batch = {"input_ids": torch.randint(1000, 20000, (a.batch, a.tokens), generator=g),
             "labels": torch.randint(0, 2, (a.batch,), generator=g)}

    def step():
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    plain, noisy = [], []
    with noise_aware(model, HardwareConfig(), NoiseAwareConfig(enabled=True), seed=0) as h:
        layers = list(h.layers.values())
        forwards = [m.forward for m in layers]

        def use_noise(on: bool) -> None:
            for m, fw in zip(layers, forwards):
                if on:
                    m.forward = fw
                elif "forward" in vars(m):
                    del m.forward

        def noisy_step(i=0):
            h.step(i, a.repeats)
            step()

        for i in range(a.repeats + 1):  # the first of each: warm-up
            use_noise(False)
            tp = timed(step)
            use_noise(True)
            tn = timed(lambda: noisy_step(i))
            if i:
                plain.append(tp)
                noisy.append(tn)
    p, n = statistics.median(plain), statistics.median(noisy)
    print(f"threads {torch.get_num_threads()}; batch {a.batch} × {a.tokens} tokens; medians of {a.repeats}, "
          "alternating")
    print(f"plain step {1e3 * p:.0f} ms, noise-aware step {1e3 * n:.0f} ms: {n / p:.2f}× (goal ≤ 1.15)")
    print(f"README row: | `python benchmarks/bench_noise_aware.py` | noise-aware / plain redistribution step, MiniLM, "
          f"{a.batch} × {a.tokens} tokens (alternating) | {n / p:.2f} (plain step {1e3 * p:.0f} ms, medians of "
          f"{a.repeats}) | ≤ 1.15 (aihwkit-lightning: 1.14) |")


if __name__ == "__main__":
    main()
