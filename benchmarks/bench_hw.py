"""Time the whole hardware table: 4 models x 7 SLC rates x 6 sequence lengths x all baselines.

    .venv/bin/python benchmarks/bench_hw.py
"""

import time

from hyflexpim.hw import BASELINES, DEFAULT_SEQ_LENS, compare

MODELS = ("bert-base", "bert-large", "gpt2", "llama-3.2-1b")
RATES = (0.0, 0.05, 0.10, 0.20, 0.30, 0.50, 1.0)


def main() -> None:
    t0 = time.perf_counter()
    cache: dict = {}
    rows = 0
    for model in MODELS:
        for rate in RATES:
            for r in compare(model, DEFAULT_SEQ_LENS, slc_rate=rate, specs_cache=cache):
                rows += len(r["seq_lens"])
    dt = time.perf_counter() - t0
    print(f"{rows} table rows ({len(MODELS)} models x {len(RATES)} SLC rates x {len(DEFAULT_SEQ_LENS)} "
          f"sequence lengths x {1 + len(BASELINES)} designs) in {dt:.2f} s")


if __name__ == "__main__":
    main()
