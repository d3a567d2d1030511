"""CPU inference time of a low-rank model against the original, one run, same inputs and threads (prints ratios).

    .venv/bin/python benchmarks/bench_rank_speed.py                       # MiniLM-L6 at 50 %, SmolLM2 at 60 %
    .venv/bin/python benchmarks/bench_rank_speed.py --ranks runs/minilm-rotten_tomatoes/rank/learned_whiten-b0.5/models/learned_ranks.json

Each decomposed matrix becomes two dense matmuls, x·(Vᵀ)ᵀ then ·(U·diag Σ)ᵀ (Σ folded into U, as a deployment
would store it), at the ranks of ``--ranks`` (a learned_ranks.json) or of the ``uniform`` policy at the budget
(the same share in every matrix; the speed depends only on the ranks). The head, embeddings and attention
scores are not compressed, so the speed-up of the whole model is below that of its matrices.

* encoder   MiniLM-L6, a batch of ``--batch`` × ``--tokens`` tokens, one forward pass
* prefill   SmolLM2-135M, one sequence of ``--prompt`` tokens, one forward pass (logits of every position)
* decode    SmolLM2-135M, ``--gen`` tokens generated greedily after the prompt with the KV cache, per token

Medians of ``--repeats`` timings; SoftLMs (arXiv 2411.10543) reports 1.33–1.72× at 50 % of the parameters.
"""

import argparse
import copy
import json

import torch
from bench_sparse_attention import timed  # the one timing helper: warm-up, then the median
from torch import nn


def low_rank(model, budget: float, ranks: dict | None):
    """A copy of ``model`` with every layer matrix as two dense factors at the chosen ranks; its parameter share."""
    from hyflexpim.algo.decompose import DecomposeConfig, decompose
    from hyflexpim.algo.soft_rank import truncate_to
    from hyflexpim.models.layers import SVDLinear, replace_module

    m = copy.deepcopy(model)
    if ranks:
        decompose(m, DecomposeConfig(rank_policy="full"))
        truncate_to(m, {n: r for n, r in ranks.items()})
    else:
        decompose(m, DecomposeConfig(rank_policy="uniform", budget=budget))
    kept = dense = 0
    for name, mod in list(m.named_modules()):
        if isinstance(mod, SVDLinear):
            d_out, d_in = mod.hyflexpim_shape
            first, second = nn.Linear(d_in, mod.rank, bias=False), nn.Linear(mod.rank, d_out, bias=mod.bias is not None)
            with torch.no_grad():
                first.weight.copy_(mod.Vh)
                second.weight.copy_(mod.U * mod.S)
                if mod.bias is not None:
                    second.bias.copy_(mod.bias)
            replace_module(m, name, nn.Sequential(first, second))
            kept += mod.rank * (d_out + d_in)
            dense += d_out * d_in
    return m.eval(), kept / dense


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder-budget", type=float, default=0.5)
    ap.add_argument("--decoder-budget", type=float, default=0.6)
    ap.add_argument("--ranks", help="learned_ranks.json of a MiniLM run (encoder ranks)")
    ap.add_argument("--decoder-ranks", help="learned_ranks.json of a SmolLM2 run (decoder ranks)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from hyflexpim.models.load import load_model

    read = lambda p: json.load(open(p))["ranks"] if p else None
    print(f"threads {a.threads}; medians of {a.repeats}")
    print("| model, pass | parameters kept (decomposed matrices) | original ms | low-rank ms | speed-up |")
    print("|---|---|---|---|---|")
    enc, _ = load_model("minilm", "classification", 2)
    enc.eval()
    small, share = low_rank(enc, a.encoder_budget, read(a.ranks))
    ids = torch.randint(1000, 20000, (a.batch, a.tokens), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        t0, t1 = (timed(lambda m=m: m(input_ids=ids), a.repeats) for m in (enc, small))
    print(f"| MiniLM-L6 encoder, {a.batch}×{a.tokens} tokens | {share:.1%} | {1e3 * t0:.1f} | {1e3 * t1:.1f} | "
          f"{t0 / t1:.2f}× |")

    dec, _ = load_model("smollm2", "lm")
    dec.eval()
    small, share = low_rank(dec, a.decoder_budget, read(a.decoder_ranks))
    prompt = torch.randint(1000, 20000, (1, a.prompt), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        p0, p1 = (timed(lambda m=m: m(input_ids=prompt), a.repeats) for m in (dec, small))

        def generate(m):
            m.generate(prompt, max_new_tokens=a.gen, min_new_tokens=a.gen, do_sample=False, pad_token_id=0)

        g0, g1 = (timed(lambda m=m: generate(m), max(1, a.repeats // 2)) for m in (dec, small))
    d0, d1 = ((g - p) / a.gen for g, p in ((g0, p0), (g1, p1)))  # generation minus its prefill, per token
    print(f"| SmolLM2-135M prefill, {a.prompt} tokens | {share:.1%} | {1e3 * p0:.1f} | {1e3 * p1:.1f} | "
          f"{p0 / p1:.2f}× |")
    print(f"| SmolLM2-135M decode, per token ({a.gen} after the prompt) | {share:.1%} | {1e3 * d0:.1f} | "
          f"{1e3 * d1:.1f} | {d0 / d1:.2f}× |")


if __name__ == "__main__":
    main()
