"""Time the whole hardware table: every catalogue model x 7 SLC rates x 6 sequence lengths x every design
(iso-area, batch 1: the defaults).

    .venv/bin/python benchmarks/bench_hw.py
"""

import time

from hyflexpim.hw import BASELINES, CATALOGUE, DEFAULT_SEQ_LENS, compare

MODELS = tuple(CATALOGUE)
RATES = (0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)  # percent


def main() -> None:
    t0 = time.perf_counter()
    cache: dict = {}
    rows = 0
    for model in MODELS:
        for rate in RATES:
            for r in compare(model, DEFAULT_SEQ_LENS, slc_rate=rate, specs_cache=cache):
                rows += len(r.seq_lens)
    dt = time.perf_counter() - t0
    print(f"{rows} table rows ({len(MODELS)} models x {len(RATES)} SLC rates x {len(DEFAULT_SEQ_LENS)} "
          f"sequence lengths x {1 + len(BASELINES)} designs) in {dt:.2f} s")


if __name__ == "__main__":
    main()
