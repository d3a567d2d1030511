"""FP32 accuracy of the default model and task against the pre-fine-tune budget (training snippets × epochs), on
the default run's test examples, with the wall time of each fine-tune: the search for the cheapest schedule close
to what the full training split gives.

    python scripts/schedule_probe.py 2000x1 4000x1 8530x1 8530x2     # runs under runs/schedule/<budget>/
"""

import sys
import time

from hyflexpim.pipeline.evaluate_step import evaluate_clean
from hyflexpim.pipeline.resolve import resolve_config
from hyflexpim.pipeline.run import Run


def main() -> None:
    for item in sys.argv[1:] or ["2000x1", "4000x1"]:
        n, _, epochs = item.partition("x")
        over = {"out": f"runs/schedule/{item}", "data": {"max_train": None if n == "all" else int(n)},
                "pre_finetune": {"epochs": float(epochs or 1)}}
        run = Run.open(resolve_config(None, False, over), say=lambda s: None, progress=False)
        t = time.perf_counter()
        run.model("fp32")
        train_s = time.perf_counter() - t
        rec = evaluate_clean(run, "fp32")
        n_train = len(run.task.data.split("train")[0])
        print(f"{item}: FP32 accuracy {100 * rec['value']:.1f} % on {rec['n_examples']} test snippets; "
              f"pre-fine-tune {train_s:.0f} s ({n_train} training snippets in the split)", flush=True)


if __name__ == "__main__":
    main()
