"""Accuracy (encoder) or perplexity (decoder) against the keep fraction of every sparse attention kind, and the
predictors' recall of the exact top-k (docs/sparse_attention.md). Needs a run folder with its model:

    .venv/bin/python scripts/sparse_attention_sweep.py                               # MiniLM-L6, default run
    .venv/bin/python scripts/sparse_attention_sweep.py --out runs/smollm2-attention  # SmolLM2-135M, Wikipedia
    .venv/bin/python scripts/sparse_attention_sweep.py --recall [--out ...]

The model is the run's FP32 (fine-tuned) one with attention on the digital-PIM datapath (INT8 Q·Kᵀ, 12-bit
probabilities x 8-bit V) for every row, dense included; PQ codebooks fitted on 8 training batches. Each cell
also gives the measured density (share of valid attention entries computed, forced keys and dense layers
included).
"""

import argparse

import torch

KINDS = ("topk", "pq", "sanger", "spatten", "quest", "h2o", "window")
NAMES = {"topk": "oracle top-k", "pq": "PQ (HARDSEA)", "sanger": "Sanger 4-bit", "spatten": "SpAtten cascade",
         "quest": "Quest pages", "h2o": "H2O heavy hitters", "window": "window + first"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/minilm-rotten_tomatoes")
    ap.add_argument("--subspaces", type=int, default=8)
    ap.add_argument("--centroids", type=int, default=16)
    ap.add_argument("--page", type=int, default=4, help="Quest page size in tokens (its paper: 16 of 32K contexts)")
    ap.add_argument("--keeps", default="1,0.5,0.33,0.25,0.12,0.06")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--recall", action="store_true", help="print the predictors' recall of the exact top-k instead")
    ap.add_argument("--no-threshold", action="store_true", help="skip the probability-threshold table")
    ap.add_argument("--profile", help="sparsity_profile.json of an attention analysis: per layer and head keeps")
    a = ap.parse_args()

    from pathlib import Path

    from hyflexpim.pipeline.resolve import resolve_config
    from hyflexpim.pipeline.run import Run
    from hyflexpim.sim.attention import attention_config
    from hyflexpim.sim.digital_attention import enable_digital_attention
    from hyflexpim.sim.evaluate import evaluate
    from hyflexpim.sim.pq_codebooks import fit_pq_codebooks
    from hyflexpim.sim.sparse_attention import enable_sparse_attention

    saved = Path(a.out) / "config.yaml"  # the run folder's own configuration (model, task, data)
    run = Run.open(resolve_config(str(saved) if saved.exists() else None, overrides={"out": a.out}), progress=False)
    run.may_train = set()
    model = run.model("fp32")
    task = run.task.kind
    test = list(run.task.batches("test"))
    books = fit_pq_codebooks(model, run.task.batches("train", shuffle=True, seed=0), a.subspaces, a.centroids)
    spec = run.config.hardware.chip()
    settings = {"pq": {"subspaces": a.subspaces, "centroids": a.centroids}, "quest": {"page": a.page}}
    if a.profile:
        settings = {k: settings.get(k, {}) | {"profile": a.profile} for k in KINDS}
    if a.recall:
        recall_tables(model, test[:4], run, settings)
        return
    with torch.no_grad(), enable_digital_attention(model, attention_config({"kind": "digital"})):
        dense = evaluate(model, test, task)
    metric = "accuracy %" if task == "classification" else "perplexity"
    fmt = (lambda x: f"{100 * x:.1f}") if task == "classification" else (lambda x: f"{x:.2f}")
    print(f"{run.config.model} on {run.config.task}: dense (digital attention) {fmt(dense)} ({metric})")

    def cell(kind, **kw):
        cfg = attention_config({"kind": kind, **settings.get(kind, {}), **kw}).from_chip(spec)
        with torch.no_grad(), enable_sparse_attention(model, cfg, books if kind == "pq" else None) as h:
            value = evaluate(model, test, task)
        return value, h.density()

    keeps = [float(x) for x in a.keeps.split(",")]
    print(f"\n{metric} (measured density %) against the keep fraction")
    print("| kind | " + " | ".join(f"{k:.0%}" for k in keeps) + " | smallest keep within the bound |")
    print("|---|" + "---|" * (len(keeps) + 1))
    for kind in a.kinds.split(","):
        cells = [cell(kind, keep=k) for k in keeps]
        ok = [k for k, (v, _) in zip(keeps, cells) if within(v, dense, task)]
        best = f"{min(ok):.0%}" if ok else "none"
        name = NAMES[kind] + (" + sparsity profile" if a.profile else "")
        print(f"| {name} | " + " | ".join(f"{fmt(v)} ({100 * d:.0f})" for v, d in cells) + f" | {best} |")
    if a.no_threshold:
        return
    print("\nprobability threshold instead of top-k (Sanger's rule; its configs: 2e-3 and 2e-2)")
    print("| kind | threshold | " + metric + " | measured density % |")
    print("|---|---|---|---|")
    for kind in ("sanger", "pq", "topk"):
        for t in (0.002, 0.02, 0.05):
            v, d = cell(kind, threshold=t)
            print(f"| {NAMES[kind]} | {t:g} | {fmt(v)} | {100 * d:.1f} |")


def within(value: float, dense: float, task: str) -> bool:
    """The issue's bound: 0.5 points of accuracy (encoder), 2 % of perplexity (decoder)."""
    return value >= dense - 0.005 - 1e-9 if task == "classification" else value <= dense * 1.02


def recall_tables(model, batches, run, settings) -> None:
    from hyflexpim.sim.attention import attention_config
    from hyflexpim.sim.pq_codebooks import fit_pq_codebooks
    from hyflexpim.sim.sparse_quality import predictor_recall

    keeps = (0.5, 0.25, 0.12)
    n = sum(len(b["input_ids"]) for b in batches)
    print(f"recall of the exact top-k keys (every predicted layer, head and real query row of {n} test sequences)")
    print("| predictor | bits per key and head | " + " | ".join(f"{k:.0%} kept" for k in keeps) + " |")
    print("|---|---|" + "---|" * len(keeps))
    head = model.config.hidden_size // model.config.num_attention_heads
    rows = [(NAMES[k], attention_config({"kind": k, **settings.get(k, {})}), None, "")
            for k in KINDS if k not in ("pq", "sanger")]
    for b in (4, 2, 1):
        rows.append((f"Sanger {b}-bit", attention_config({"kind": "sanger", "bits": b}), None, str(b * head)))
    for m, k in ((4, 16), (8, 16), (8, 64), (16, 16), (32, 16)):
        if head % m:
            continue
        books = fit_pq_codebooks(model, run.task.batches("train", shuffle=True, seed=0), m, k)
        rows.append((f"PQ M={m}, K={k}", attention_config({"kind": "pq", "subspaces": m, "centroids": k}), books,
                     str(m * (k - 1).bit_length())))
        if (m, k) == (8, 16):
            base = books
    for name, cfg, books, bits in rows:
        r = predictor_recall(model, batches, cfg, books, keeps)
        print(f"| {name} | {bits} | " + " | ".join(f"{r[k]:.3f}" for k in keeps) + " |")
    print("\nPQ M=8, K=16 under predictor noise (relative sigma on the stored centroids), 25 % kept")
    print("| sigma | " + " | ".join(f"{s:g}" for s in (0, 0.025, 0.05, 0.1)) + " |")
    print("|---|---|---|---|---|")
    cells = [predictor_recall(model, batches, attention_config({"kind": "pq", "subspaces": 8, "centroids": 16,
                                                               "predictor_noise": s}), base, (0.25,))[0.25]
             for s in (0, 0.025, 0.05, 0.1)]
    print("| recall | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
