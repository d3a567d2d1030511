"""Recall of the exact top-k keys: block-sparse selection against per-query selection, on a model's real attention.

    .venv/bin/python benchmarks/bench_block_recall.py [--model minilm] [--length 512] [--sequences 4]
                                                      [--keeps 0.25,0.12] [--blocks 16,32,64]

Rotten Tomatoes test snippets joined into ``--sequences`` sequences of ``--length`` tokens (the pretrained
model, no fine-tune), every layer and head and query. Recall of a row: the share of its exact top-k keys
(k = ceil(keep · keys), by Q·Kᵀ) that the selection keeps, nothing forced in (no first key, no diagonal), as
``hyflexpim.sim.sparse_quality.top_k_recall`` counts it for the per-query predictors. Per query: the oracle
(1.0 by definition) and Quest's page bound (pages of 16). Block (``hyflexpim.sim.block_sparse``, blocks of
``--blocks`` tokens, ceil(keep · key blocks) per query block): Quest's bound, the block centroid, and the exact
attention mass of each block (the best any block predictor can do at that block size). Also printed: the share of
entries each selection keeps.
"""

import argparse
import itertools

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--sequences", type=int, default=4)
    ap.add_argument("--keeps", default="0.25,0.12")
    ap.add_argument("--blocks", default="16,32,64")
    a = ap.parse_args()

    from hyflexpim import load_model, load_task
    from hyflexpim.sim.attention import attention_config
    from hyflexpim.sim.block_sparse import _entries, block_scores, block_valid, select_blocks
    from hyflexpim.sim.digital_attention import float_attention
    from hyflexpim.sim.sparse_attention import Context, attention_hook, exact_scores, predicted_scores, select

    keeps = [float(x) for x in a.keeps.split(",")]
    blocks = [int(x) for x in a.blocks.split(",")]
    model, tok = load_model(a.model)
    data = load_task("rotten_tomatoes")
    texts, _ = data.split("test")
    ids = list(itertools.chain.from_iterable(tok(t, add_special_tokens=False)["input_ids"] for t in texts))
    L = a.length
    seqs = torch.tensor(ids[: a.sequences * L]).reshape(a.sequences, L)
    quest = attention_config({"kind": "quest", "page": 16, "dense_layers": 0})
    names = ["per query: Quest pages of 16"] + [f"block {b}: {how}" for b in blocks
                                                 for how in ("quest", "centroid", "exact")]
    acc = {(n, k): [0.0, 0, 0] for n in names for k in keeps}  # Σ recall, rows, kept entries

    def add(name, k, chosen, truth):
        hit = (chosen & truth).sum(-1).float() / truth.sum(-1).float().clamp_min(1)
        acc[name, k][0] += float(hit.sum())
        acc[name, k][1] += hit.numel()
        acc[name, k][2] += int(chosen.sum())

    def hook(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        _B, _H, S, D = query.shape
        valid = torch.ones(1, 1, S, S, dtype=torch.bool)
        exact = exact_scores(query, key)
        scale = D ** -0.5 if scaling is None else scaling
        for k in keeps:
            truth = select(exact, valid, k, False, False)
            ctx = Context(valid, scale, 0, None, {}, False)
            add(names[0], k, select(predicted_scores(quest, query, key, ctx), valid, k, False, False), truth)
            for b in blocks:
                ok = block_valid(None, S, S, b)
                for how in ("quest", "centroid", "exact"):
                    index, slot_ok = select_blocks(block_scores(query, key, None, b, how, scale), ok, k, S, S, b,
                                                   False, False)
                    add(f"block {b}: {how}", k, _entries(index, slot_ok, None, S, S, b, False), truth)
        return float_attention(query, key, value, attention_mask, scaling)

    with attention_hook(model, "hyflexpim_block_recall", hook), torch.inference_mode():
        for s in seqs:
            model(input_ids=s[None])
    print(f"{a.model}, {a.sequences} sequences of {L} tokens (Rotten Tomatoes test text joined), every layer, "
          f"head and query; recall of the exact top-k keys (kept share of entries in brackets)")
    print("| selection | " + " | ".join(f"{k:.0%} kept" for k in keeps) + " |")
    print("|---|" + "---|" * len(keeps))
    print("| per query: oracle top-k | " + " | ".join("1.000" for _ in keeps) + " |")
    for n in names:
        cells = [f"{acc[n, k][0] / max(acc[n, k][1], 1):.3f} ({acc[n, k][2] / max(acc[n, k][1] * L, 1):.0%})"
                 for k in keeps]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
