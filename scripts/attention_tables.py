"""Print the tables of docs/attention.md from the attention folders, and the peer check against
transformers' own attentions (``output_attentions=True``).

    .venv/bin/python scripts/attention_tables.py \
        [runs/minilm-rotten_tomatoes/attention runs/smollm2-attention/attention]
"""

import json
import sys
from pathlib import Path

import torch


def peer_check(name: str, kind: str, task: str) -> str:
    from hyflexpim import batches, load_model, load_task
    from hyflexpim.sim.attention_capture import capture_attention

    model, tok = load_model(name, kind)
    data = load_task(task, max_examples=64) if kind == "classification" else load_task(task)
    if kind == "classification":
        b = next(iter(batches(data, tok, "test", batch_size=8)))
    else:
        b = next(iter(batches(data, tok, "test", block_size=64, batch_size=2)))
    inputs = {k: v for k, v in b.items() if k != "labels"}
    model.set_attn_implementation("eager")
    got = {}
    with torch.no_grad():
        ref = model(**inputs, output_attentions=True).attentions
        with capture_attention(model, lambda layer, p, valid: got.__setitem__(layer, p)):
            model(**inputs)
    diff = max(float((got[i] - a).abs().max()) for i, a in enumerate(ref))
    return f"{name}: {len(ref)} layers, max |captured − output_attentions| = {diff:.1e}"


def layer_table(folder: Path) -> None:
    data = json.loads((folder / "attention_metrics.json").read_text())
    print(f"\n{data['label']} ({data['examples']} examples): per layer, mean over heads")
    print("| layer | entropy (nats) | entropy / log n | top-1 mass | k90 (keys) | k90 / n | k99 / n | binary rows "
          "| first token |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in data["layers"]:
        print(f"| {r['layer']} | {r['entropy']:.2f} | {r['entropy_norm']:.2f} | {r['top1']:.2f} | {r['k90']:.1f} | "
              f"{r['k90_frac']:.2f} | {r['k99_frac']:.2f} | {r['binary']:.1%} | {r['first_token']:.2f} |")


def noise_table(folder: Path) -> None:
    f = folder / "attention_noise.json"
    if not f.exists():
        return
    rows = json.loads(f.read_text())
    plans = list(dict.fromkeys(r["plan"] for r in rows))
    layers = sorted({r["layer"] for r in rows})
    print("\nPIM twin vs clean, per layer: top-1 agreement / mean total-variation distance")
    print("| layer | " + " | ".join(f"{p[3:]} % SLC" for p in plans) + " |")
    print("|---|" + "---|" * len(plans))
    for l in layers:
        by = {r["plan"]: r for r in rows if r["layer"] == l}
        print(f"| {l} | " + " | ".join(f"{by[p]['top1_agreement']:.2f} / {by[p]['total_variation']:.2f}"
                                    for p in plans) + " |")


if __name__ == "__main__":
    folders = [Path(a) for a in sys.argv[1:]] or [Path("runs/minilm-rotten_tomatoes/attention"),
                                                   Path("runs/smollm2-attention/attention")]
    print(peer_check("minilm", "classification", "rotten_tomatoes"))
    print(peer_check("smollm2", "lm", "wikipedia"))
    for f in folders:
        if f.exists():
            layer_table(f)
            noise_table(f)
