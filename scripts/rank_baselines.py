"""Learned ranks against the low-rank baselines at one parameter budget (docs/rank.md). Needs a run folder:

    .venv/bin/python scripts/rank_baselines.py --budget 0.5                                    # MiniLM-L6
    .venv/bin/python scripts/rank_baselines.py --out runs/smollm2-attention --budget 0.8       # SmolLM2-135M

Every method decomposes the run's FP32 (fine-tuned) model at ``--budget`` of the decomposed matrices'
parameters, is measured training-free, then gets the run's own redistribution fine-tune (the same steps, data
and learning rate for every method) and is measured again. Each method is an ordinary run folder under
``OUT/rank/`` (its models and evaluations cached there: an interrupted comparison resumes); the FP32 model is
linked, not retrained.
"""

import argparse
import os
from pathlib import Path

METHODS = {  # name -> decompose settings
    "learned": {"rank_policy": "learned"},
    "learned_whiten": {"rank_policy": "learned", "method": "whiten"},
    "uniform": {"rank_policy": "uniform"},
    "energy": {"rank_policy": "energy_budget"},
    "asvd": {"rank_policy": "uniform", "method": "asvd"},
    "whiten": {"rank_policy": "uniform", "method": "whiten"},
    "fisher": {"rank_policy": "uniform", "method": "fisher"},
}
NAMES = {"learned": "learned (soft threshold)", "learned_whiten": "learned on whitened SVD",
         "uniform": "uniform ratio", "energy": "energy (shared fraction)", "asvd": "ASVD-style scaling",
         "whiten": "SVD-LLM-style whitening", "fisher": "FWSVD-style Fisher weights"}


def achieved(model) -> float:
    from hyflexpim.models.layers import SVDLinear

    layers = [m for m in model.modules() if isinstance(m, SVDLinear)]
    return sum(m.rank * sum(m.hyflexpim_shape) for m in layers) / sum(m.hyflexpim_shape[0] * m.hyflexpim_shape[1]
                                                                      for m in layers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/minilm-rotten_tomatoes")
    ap.add_argument("--budget", type=float, default=0.5)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--set", action="append", default=[], help="extra overrides of every method's run (a.b=value)")
    ap.add_argument("--tag", default="", help="suffix of the methods' run folders (for runs with other --set)")
    a = ap.parse_args()

    from hyflexpim.config import deep_merge
    from hyflexpim.pipeline.evaluate_step import evaluate_clean
    from hyflexpim.pipeline.resolve import parse_set, resolve_config
    from hyflexpim.pipeline.run import Run

    base_dir = Path(a.out)
    saved = base_dir / "config.yaml"
    base = Run.open(resolve_config(str(saved) if saved.exists() else None, overrides={"out": a.out}), progress=False,
                    may_train={"pre-finetune"})
    kind = base.task.kind
    fmt = (lambda x: f"{100 * x:.1f}") if kind == "classification" else (lambda x: f"{x:.2f}")
    metric = "accuracy %" if kind == "classification" else "perplexity"
    dense = evaluate_clean(base, "fp32")["value"]
    finetuned = base_dir / "models" / "finetuned.safetensors"
    rows = []
    for name in a.methods.split(","):
        if name not in METHODS:
            raise SystemExit(f"error: unknown method {name!r}; choose from {', '.join(METHODS)}")
        out = base_dir / "rank" / f"{name}-b{a.budget:g}{'-' + a.tag if a.tag else ''}"
        (out / "models").mkdir(parents=True, exist_ok=True)
        if finetuned.exists() and not (out / "models" / "finetuned.safetensors").exists():
            os.link(finetuned, out / "models" / "finetuned.safetensors")
        over = deep_merge(parse_set(a.set), {"out": str(out), "decompose": {**METHODS[name], "budget": a.budget}})
        run = Run.open(resolve_config(str(saved) if saved.exists() else None, overrides=over), progress=False)
        learned = METHODS[name]["rank_policy"] == "learned"  # full rank until the fine-tune learns the ranks
        free = None if learned else evaluate_clean(run, "svd")["value"]
        tuned = evaluate_clean(run, "redistributed")["value"]
        share = achieved(run.model("redistributed"))
        rows.append((name, free, tuned, share))
        print(f"{name}: training-free {fmt(free) if free is not None else '-'}, fine-tuned {fmt(tuned)}, "
              f"parameters kept {share:.1%}", flush=True)
    print(f"\n{base.config.model} on {base.config.task}, {metric}; budget {a.budget:.0%} of the decomposed matrices' "
          f"parameters; uncompressed {fmt(dense)}")
    print("| method | training-free | + fine-tune | parameters kept |")
    print("|---|---|---|---|")
    for name, free, tuned, share in rows:
        print(f"| {NAMES[name]} | {fmt(free) if free is not None else '-'} | {fmt(tuned)} | {share:.1%} |")


if __name__ == "__main__":
    main()
