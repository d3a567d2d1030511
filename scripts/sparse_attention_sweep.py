"""Accuracy of MiniLM-L6 on Rotten Tomatoes against the keep fraction of each sparse attention kind
(docs/sparse_attention.md). Needs the default run's fine-tuned model (`hyflexpim run` first).

    .venv/bin/python scripts/sparse_attention_sweep.py [--out runs/minilm-rotten_tomatoes] [--subspaces 8 --centroids 16]

The model is the run's FP32 fine-tuned one, attention on the digital-PIM datapath (INT8 Q·Kᵀ, 12-bit
probabilities x 8-bit V) for every row, dense included; PQ codebooks fitted on 8 training batches.
"""

import argparse

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/minilm-rotten_tomatoes")
    ap.add_argument("--subspaces", type=int, default=8)
    ap.add_argument("--centroids", type=int, default=16)
    ap.add_argument("--keeps", default="1,0.5,0.33,0.25,0.12,0.06")
    ap.add_argument("--recall", action="store_true", help="print the predictors' recall of the exact top-k instead")
    a = ap.parse_args()

    from hyflexpim.pipeline.resolve import resolve_config
    from hyflexpim.pipeline.run import Run
    from hyflexpim.sim.attention import attention_config
    from hyflexpim.sim.digital_attention import enable_digital_attention
    from hyflexpim.sim.evaluate import evaluate
    from hyflexpim.sim.sparse_attention import enable_sparse_attention, fit_pq_codebooks

    run = Run.open(resolve_config(overrides={"out": a.out}), progress=False)
    run.may_train = set()
    model = run.finetuned()
    test = list(run.task.batches("test"))
    books = fit_pq_codebooks(model, run.task.batches("train", shuffle=True, seed=0), a.subspaces, a.centroids)
    spec = run.config.hardware.chip()
    if a.recall:
        recall_tables(model, test[:4], run)
        return
    with enable_digital_attention(model, attention_config({"kind": "digital"})):
        dense = evaluate(model, test)
    print(f"dense (digital attention): {dense:.4f} on {sum(len(b['labels']) for b in test)} test snippets")
    keeps = [float(x) for x in a.keeps.split(",")]
    print("| kind | " + " | ".join(f"{k:.0%}" for k in keeps) + " |")
    print("|---|" + "---|" * len(keeps))
    for kind in ("topk", "pq", "window"):
        cells = []
        for keep in keeps:
            extra = {"subspaces": a.subspaces, "centroids": a.centroids} if kind == "pq" else {}
            cfg = attention_config({"kind": kind, "keep": keep, **extra})
            from hyflexpim.sim.attention import ATTENTION_KINDS

            cfg = ATTENTION_KINDS.get(kind).from_chip(cfg, spec)
            with torch.no_grad(), enable_sparse_attention(model, cfg, books if kind == "pq" else None):
                cells.append(evaluate(model, test))
        name = {"topk": "oracle top-k", "pq": f"PQ (M={a.subspaces}, K={a.centroids})", "window": "window + first"}[kind]
        print(f"| {name} | " + " | ".join(f"{100 * c:.1f}" for c in cells) + " |")


def recall_tables(model, batches, run) -> None:
    from hyflexpim.sim.attention import attention_config
    from hyflexpim.sim.sparse_attention import fit_pq_codebooks, predictor_recall

    keeps = (0.5, 0.25, 0.12)
    print("recall of the exact top-k keys (all layers, heads and real query rows of 256 test snippets)")
    print("| predictor | " + " | ".join(f"{k:.0%} kept" for k in keeps) + " |")
    print("|---|" + "---|" * len(keeps))
    rows = [("oracle top-k", attention_config({"kind": "topk"}), None),
            ("window + first", attention_config({"kind": "window"}), None)]
    for m, k in ((4, 16), (8, 16), (8, 64), (16, 16)):
        books = fit_pq_codebooks(model, run.task.batches("train", shuffle=True, seed=0), m, k)
        rows.append((f"PQ M={m}, K={k}", attention_config({"kind": "pq", "subspaces": m, "centroids": k}), books))
        if (m, k) == (8, 16):
            base = books
    for name, cfg, books in rows:
        r = predictor_recall(model, batches, cfg, books, keeps)
        print(f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in keeps) + " |")
    print("\nPQ M=8, K=16 under predictor noise (relative sigma on the stored centroids), 25 % kept")
    print("| sigma | " + " | ".join(f"{s:g}" for s in (0, 0.025, 0.05, 0.1)) + " |")
    print("|---|---|---|---|---|")
    cells = [predictor_recall(model, batches, attention_config({"kind": "pq", "subspaces": 8, "centroids": 16,
                                                               "predictor_noise": s}), base, (0.25,))[0.25]
             for s in (0, 0.025, 0.05, 0.1)]
    print("| recall | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
