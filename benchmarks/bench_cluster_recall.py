"""Recall of the exact top-k keys by the cluster predictor (ClusterKV-style) beside PQ's and Sanger's, at their bits.

    .venv/bin/python benchmarks/bench_cluster_recall.py [--model minilm] [--length 128] [--sequences 4]

Rotten Tomatoes test text joined into ``--sequences`` sequences of ``--length`` tokens (the pretrained model, no
fine-tune; PQ codebooks fitted on 8,192 keys of training text), every layer, head and query row; recall as
``hyflexpim.sim.sparse_quality.predictor_recall`` counts it (nothing forced in). Bits per key and head: Sanger
b·head_dim, PQ M·log2 K, cluster log2 C for the key's cluster id plus the C centroids (C·head_dim·8 bits per
head) spread over the ``--length`` keys of a sequence.
"""

import argparse
import itertools
import math

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--sequences", type=int, default=4)
    ap.add_argument("--keeps", default="0.5,0.25,0.12")
    a = ap.parse_args()

    from hyflexpim import load_model, load_task
    from hyflexpim.sim.attention import attention_config
    from hyflexpim.sim.pq_codebooks import fit_pq_codebooks
    from hyflexpim.sim.sparse_quality import predictor_recall

    keeps = tuple(float(x) for x in a.keeps.split(","))
    model, tok = load_model(a.model)
    model.eval()
    data = load_task("rotten_tomatoes")
    L, n = a.length, a.sequences

    def batches(split, n=n):
        texts, _ = data.split(split)
        ids = list(itertools.chain.from_iterable(tok(t, add_special_tokens=False)["input_ids"] for t in texts))
        seqs = torch.tensor(ids[: n * L]).reshape(n, L)
        return [{"input_ids": s[None], "attention_mask": torch.ones(1, L, dtype=torch.long)} for s in seqs]

    test = batches("test")
    train = batches("train", max(1, 8192 // L))  # 8,192 calibration keys per layer and head (fit_pq_codebooks' cap)
    head = model.config.hidden_size // model.config.num_attention_heads
    rows = [("oracle top-k", "(exact)", {"kind": "topk"}, None)]
    rows += [(f"Sanger {b}-bit", str(b * head), {"kind": "sanger", "bits": b}, None) for b in (4, 2, 1)]
    for m, k in ((4, 16), (8, 16), (16, 16)):
        books = fit_pq_codebooks(model, train, m, k, n_batches=len(train))
        rows.append((f"PQ M = {m}, K = {k}", str(m * int(math.log2(k))),
                     {"kind": "pq", "subspaces": m, "centroids": k}, books))
    for c in (4, 8, 16, 32):
        bits = math.ceil(math.log2(c)) + c * head * 8 / L
        rows.append((f"cluster C = {c}", f"{math.ceil(math.log2(c))} + {c * head * 8 / L:g} = {bits:g}",
                     {"kind": "cluster", "clusters": c}, None))
    print(f"{a.model}, {n} sequences of {L} tokens (Rotten Tomatoes test text joined), every layer, head and query; "
          f"recall of the exact top-k keys; head size {head}")
    print("| predictor | bits per key and head | " + " | ".join(f"{k:.0%} kept" for k in keeps) + " |")
    print("|---|---|" + "---|" * len(keeps))
    for name, bits, cfg, books in rows:
        r = predictor_recall(model, test, attention_config(cfg), books, keeps)
        print(f"| {name} | {bits} | " + " | ".join(f"{r[k]:.3f}" for k in keeps) + " |", flush=True)


if __name__ == "__main__":
    main()
