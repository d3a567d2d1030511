"""Sparse-aware fine-tuning: a short fine-tune of MiniLM-L6 (Rotten Tomatoes) with PQ sparse attention in the
forward pass (the toolkit's Accelerate loop, float exact part; the selection is discrete, so gradients flow
through the kept entries only), for keep fractions below what the model tolerates untrained
(docs/sparse_attention.md). Needs the default run's fine-tuned model (`hyflexpim run` first).

    .venv/bin/python scripts/sparse_finetune.py [--keep 0.12] [--steps 300] [--lr 2e-5]

Prints accuracy (digital-PIM exact part) before and after, at the trained keep and its neighbours, with the
codebooks refitted on the fine-tuned model's keys.
"""

import argparse
import copy

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/minilm-rotten_tomatoes")
    ap.add_argument("--keep", type=float, default=0.12)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=2e-5)
    a = ap.parse_args()

    from pathlib import Path

    from hyflexpim.algo.finetune import FinetuneConfig, finetune
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
    spec = run.config.hardware.chip()
    test = list(run.task.batches("test"))
    keeps = sorted({a.keep, 0.06, 0.25})

    def measure(model, label):
        books = fit_pq_codebooks(model, run.task.batches("train", shuffle=True, seed=0))
        with torch.no_grad(), enable_digital_attention(model, attention_config({"kind": "digital"})):
            cells = [f"dense {100 * evaluate(model, test):.1f}"]
        for k in keeps:
            cfg = attention_config({"kind": "pq", "keep": k}).from_chip(spec)
            with torch.no_grad(), enable_sparse_attention(model, cfg, books):
                cells.append(f"PQ {k:.0%} {100 * evaluate(model, test):.1f}")
        print(f"{label}: " + ", ".join(cells))
        return books

    model = copy.deepcopy(run.model("fp32"))
    books = measure(model, "before")
    train = run.task.batches("train", shuffle=True, seed=run.config.seed + 5)
    cfg = attention_config({"kind": "pq", "keep": a.keep, "exact": "float"})
    with enable_sparse_attention(model, cfg, books):
        res = finetune(model, train, FinetuneConfig(lr=a.lr, max_steps=a.steps), "sparse-finetune", progress=False)
    model.eval()
    print(f"sparse-aware fine-tune: {res.steps} steps at PQ keep {a.keep:.0%}, lr {a.lr:g}, "
          f"final loss {res.final_loss:.4f}")
    measure(model, "after")


if __name__ == "__main__":
    main()
