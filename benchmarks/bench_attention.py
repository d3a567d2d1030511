"""Attention analysis cost: time against a plain evaluation of the same examples, and peak memory
from 64 to 1,024 examples (streamed statistics: it should not grow).

    .venv/bin/python benchmarks/bench_attention.py [--examples 256] [--no-js] [--repeats 5] [--no-memory]
    .venv/bin/python benchmarks/bench_attention.py --reference /tmp/base/src --examples 256 --repeats 3 --no-memory
        # A/B: this tree's statistics against another tree's hyflexpim/analysis/metrics.py, e.g. the commit
        # before them (git archive be9c5c4 src | tar -x -C /tmp/base), alternating in one process

MiniLM-L6 on Rotten Tomatoes test snippets (max 64 tokens, batches of 64). Memory: peak RSS growth of a
child process per example count, above the model and data loaded. Timing: plain evaluation and analysis
alternate ``--repeats`` times (a busy machine slows both alike); medians. Every row is cut to the width that
holds its last valid key (widths 16, 24, 40, … growing by 1.5×: a padded batch costs its real lengths). k₉₀/k₉₉
exact: rows of more than 64 keys by a partial selection (``torch.topk`` of the last batch's 95th-percentile k₉₉,
at least 16; a full sort only for the rows that leaves short of 99 % of their mass), shorter rows (these
snippets) by one sort of the cut row, the count a binary search in its running sum; the Jensen–Shannon
distances from a uniform sample of at most 128 rows per batch and layer (``hyflexpim.analysis.metrics``).
On a busy machine run it with ``OMP_NUM_THREADS=1``: two threads waiting on each other make both timings erratic.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import time


def _setup(n: int, same_batch: bool = False):
    from hyflexpim import batches, load_model, load_task

    model, tok = load_model("minilm")
    data = load_task("rotten_tomatoes")
    if same_batch:  # one full batch repeated: memory then can only grow with the number of batches
        first = next(iter(batches(data, tok, "test", batch_size=64, max_length=64)))
        return model, tok, [first] * -(-n // 64)
    b = list(itertools.islice(batches(data, tok, "test", batch_size=64, max_length=64), -(-n // 64)))
    return model, tok, b


def timing(n: int, with_js: bool, repeats: int, reference: str | None = None) -> None:
    import torch

    from hyflexpim.analysis import analyze_attention

    model, tok, b = _setup(n)
    if reference:
        compare(model, tok, b, with_js, repeats, reference)
        return

    def plain():
        with torch.inference_mode():
            for x in b:
                model(**{k: v for k, v in x.items() if k != "labels"})

    plain()
    analyze_attention(model, b[:1], tokenizer=tok, with_js=with_js)
    tp, ta = [], []
    for _ in range(repeats):
        tp.append(_t(plain))
        ta.append(_t(lambda: analyze_attention(model, b, tokenizer=tok, with_js=with_js)))
    tp, ta = statistics.median(tp), statistics.median(ta)
    print(f"{n} examples: plain evaluation {tp * 1e3:.0f} ms, analysis {ta * 1e3:.0f} ms, ratio {ta / tp:.2f} "
          f"(JS distances {'on' if with_js else 'off'}; medians of {repeats}, alternating; goal <= 1.5)")
    print(f"README row: | `python benchmarks/bench_attention.py` | attention analysis / plain evaluation, {n} snippets "
          f"| {ta / tp:.2f} (JS {'on' if with_js else 'off'}, {torch.get_num_threads()} threads, plain {tp:.1f} s, "
          f"medians of {repeats}) | ≤ 1.5; flat |")


def compare(model, tok, b, with_js: bool, repeats: int, reference: str) -> None:
    import importlib.util
    from pathlib import Path

    import torch

    import hyflexpim.analysis.analyze as analyze

    spec = importlib.util.spec_from_file_location("reference_metrics",
                                                  Path(reference) / "hyflexpim" / "analysis" / "metrics.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    ours = analyze.update

    def plain():
        with torch.inference_mode():
            for x in b:
                model(**{k: v for k, v in x.items() if k != "labels"})

    def analysis(update):
        analyze.update = update
        try:
            analyze.analyze_attention(model, b, tokenizer=tok, with_js=with_js)
        finally:
            analyze.update = ours

    plain(), analysis(ours), analysis(ref.update)
    t = {"plain": [], "ours": [], "reference": []}
    for _ in range(repeats):
        t["plain"].append(_t(plain))
        t["ours"].append(_t(lambda: analysis(ours)))
        t["reference"].append(_t(lambda: analysis(ref.update)))
    m = {k: statistics.median(v) for k, v in t.items()}
    print(f"{len(b) * 64} examples, JS distances {'on' if with_js else 'off'}: plain evaluation {m['plain'] * 1e3:.0f} "
          f"ms; analysis / plain: this tree {m['ours'] / m['plain']:.2f}, reference {m['reference'] / m['plain']:.2f} "
          f"(medians of {repeats}, alternating; goal <= 1.5)")
    print(f"README row: | `python benchmarks/bench_attention.py` | attention analysis / plain evaluation, "
          f"{len(b) * 64} snippets | {m['ours'] / m['plain']:.2f} against {m['reference'] / m['plain']:.2f} for "
          f"{reference} (JS {'on' if with_js else 'off'}, {torch.get_num_threads()} threads, medians of {repeats}, "
          "alternating) | ≤ 1.5; flat |")


def _t(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def memory_child(n: int) -> None:
    import resource

    from hyflexpim.analysis import analyze_attention

    model, tok, b = _setup(n, same_batch=True)
    analyze_attention(model, b[:1], tokenizer=tok)  # the peak of one batch's temporaries
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    analyze_attention(model, b, tokenizer=tok)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"examples": n, "growth_mb": (peak - base) / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=256)
    ap.add_argument("--no-js", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-memory", action="store_true", help="time only")
    ap.add_argument("--reference", help="a src folder whose analysis/metrics.py to time against (A/B)")
    ap.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.memory_child:
        memory_child(a.memory_child)
        return
    timing(a.examples, not a.no_js, a.repeats, a.reference)
    if a.no_memory:
        return
    growth = {}
    for n in (64, 1024):
        r = subprocess.run([sys.executable, __file__, "--memory-child", str(n)], capture_output=True, text=True,
                           check=True)
        growth[n] = json.loads(r.stdout.strip().splitlines()[-1])["growth_mb"]
    print(f"peak RSS growth beyond one batch's analysis: {growth[64]:.1f} MB at 64 examples, {growth[1024]:.1f} MB "
          f"at 1,024 (goal: flat, within 10 % of the process's footprint)")


if __name__ == "__main__":
    main()
