"""CPU inference time of a low-rank model against the original, one run, same inputs and threads (prints ratios),
beside the matmul ceiling: the same matrices' matmuls timed alone.

    .venv/bin/python benchmarks/bench_rank_speed.py                       # MiniLM-L6 at 50 %, SmolLM2 at 60 %
    .venv/bin/python benchmarks/bench_rank_speed.py \
        --ranks runs/minilm-rotten_tomatoes/rank/learned_whiten-b0.5/models/learned_ranks.json
    .venv/bin/python benchmarks/bench_rank_speed.py --compile             # the encoder through torch.compile too

Each decomposed matrix becomes one ``LowRankLinear`` (``hyflexpim.models.layers``): two dense matmuls,
x·Vᵀ then ·(U·diag Σ)ᵀ (Σ folded into U, as a deployment stores it), one module call and nothing else per layer,
at the ranks of ``--ranks`` (a learned_ranks.json) or of the ``uniform`` policy at the budget (the same share in
every matrix; the speed depends only on the ranks). The head, embeddings and attention scores are not
compressed, so the speed-up of the whole model is below that of its matrices.

* encoder   MiniLM-L6, a batch of ``--batch`` × ``--tokens`` tokens, one forward pass
* prefill   SmolLM2-135M, one sequence of ``--prompt`` tokens, one forward pass (logits of every position)
* decode    SmolLM2-135M, ``--gen`` tokens generated greedily after the prompt with the KV cache, per token (the
            steps alone, timed after an untimed prefill)

Ceiling: every decomposed matrix's matmul on a random input of the pass's tokens ([tokens, d_in]), the dense
weight against the two factors, one after the other with nothing else; it bounds what the model can gain from
its ranks (attention, norms and activations are the same in both). SmolLM2's output head is tied to its
49,152 × 576 embedding (28 M of 135 M parameters) and stays dense: the ceiling is printed without it (the
decomposed matrices alone) and with it (every matmul of the pass), and the head's own time beside.

Original and low-rank passes alternate (a busy machine slows both alike); medians of ``--repeats`` after a
warm-up. SoftLMs (arXiv 2411.10543) reports 1.33–1.72× at 50 % of the parameters.
"""

import argparse
import copy
import json
import statistics
import time

import torch
from torch.nn import functional as F


def alternating(fns: list, repeats: int) -> list[float]:
    """Median time of each of ``fns``, called in turn ``repeats`` times after one warm-up call each."""
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for _ in range(repeats):
        for t, fn in zip(ts, fns):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in ts]


def low_rank(model, budget: float, ranks: dict | None):
    """A copy of ``model`` with every layer matrix as a ``LowRankLinear`` at the chosen ranks; its parameter
    share; and the (d_in, d_out, rank) of every decomposed matrix."""
    from hyflexpim.algo.decompose import DecomposeConfig, decompose
    from hyflexpim.algo.soft_rank import truncate_to
    from hyflexpim.models.layers import LowRankLinear, SVDLinear, replace_module

    m = copy.deepcopy(model)
    if ranks:
        decompose(m, DecomposeConfig(rank_policy="full"))
        truncate_to(m, dict(ranks))
    else:
        decompose(m, DecomposeConfig(rank_policy="uniform", budget=budget))
    shapes = []
    for name, mod in list(m.named_modules()):
        if isinstance(mod, SVDLinear):
            d_out, d_in = mod.hyflexpim_shape
            replace_module(m, name, LowRankLinear.from_svd(mod))
            shapes.append((d_in, d_out, mod.rank))
    kept = sum(k * (d_in + d_out) for d_in, d_out, k in shapes)
    return m.eval(), kept / sum(d_in * d_out for d_in, d_out, _ in shapes), shapes


def ceiling(shapes, tokens: int, repeats: int, head: tuple[int, int] | None = None) -> dict:
    """Times of the decomposed matrices' matmuls alone on [tokens, d_in] inputs: dense, low-rank, and the
    (dense, uncompressed) head's matmul ``head`` = (d_in, d_out) if given."""
    g = torch.Generator().manual_seed(0)
    mats = [(torch.randn(tokens, d_in, generator=g), torch.randn(d_out, d_in, generator=g) / d_in ** 0.5,
             torch.randn(k, d_in, generator=g) / d_in ** 0.5, torch.randn(d_out, k, generator=g) / k ** 0.5)
            for d_in, d_out, k in shapes]
    def dense():
        return [F.linear(x, w) for x, w, _, _ in mats]

    def factors():
        return [F.linear(F.linear(x, v), u) for x, _, v, u in mats]

    fns = [dense, factors]
    if head:
        x, w = torch.randn(tokens, head[0], generator=g), torch.randn(head[1], head[0], generator=g)
        fns.append(lambda: F.linear(x, w))
    with torch.inference_mode():
        t = alternating(fns, repeats)
    return {"dense": t[0], "low_rank": t[1], "head": t[2] if head else 0.0}


def row(what: str, share: float, t0: float, t1: float, c: dict | None) -> str:
    out = f"| {what} | {share:.1%} | {1e3 * t0:.1f} | {1e3 * t1:.1f} | {t0 / t1:.2f}× |"
    if c is None:
        return out + " | |"
    bare = c["dense"] / c["low_rank"]
    whole = (c["dense"] + c["head"]) / (c["low_rank"] + c["head"])
    return out + (f" {bare:.2f}× ({1e3 * c['dense']:.1f} → {1e3 * c['low_rank']:.1f} ms) |" if not c["head"] else
                  f" {bare:.2f}×; with the tied head ({1e3 * c['head']:.1f} ms) {whole:.2f}× |")


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
    ap.add_argument("--compile", action="store_true", help="also time the encoder pair through torch.compile "
                    "(inductor, C++ on this CPU; compiling takes minutes on 2 cores)")
    ap.add_argument("--no-decoder", action="store_true", help="the encoder only")
    ap.add_argument("--no-encoder", action="store_true", help="the decoder only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from hyflexpim.models.load import load_model

    def read(path):
        if not path:
            return None
        with open(path) as f:
            return json.load(f)["ranks"]

    print(f"threads {a.threads}; medians of {a.repeats}, original and low-rank alternating")
    print("| model, pass | parameters kept (decomposed matrices) | original ms | low-rank ms | speed-up | "
          "matmul ceiling |")
    print("|---|---|---|---|---|---|")
    rows, encoder = [], ""
    if not a.no_encoder:
        enc, _ = load_model("minilm", "classification", 2)
        enc.eval()
        small, share, shapes = low_rank(enc, a.encoder_budget, read(a.ranks))
        ids = torch.randint(1000, 20000, (a.batch, a.tokens), generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            t0, t1 = alternating([lambda: enc(input_ids=ids), lambda: small(input_ids=ids)], a.repeats)
        c = ceiling(shapes, a.batch * a.tokens, a.repeats)
        rows.append(row(f"MiniLM-L6 encoder, {a.batch}×{a.tokens} tokens", share, t0, t1, c))
        print(rows[-1])
        encoder = f"{t0 / t1:.2f} (ceiling {c['dense'] / c['low_rank']:.2f})"
        print(f"encoder at {a.encoder_budget:.0%}: {t0 / t1:.2f}× (goal ≥ 1.33, SoftLMs 1.33–1.72; the matmuls alone "
              f"{c['dense'] / c['low_rank']:.2f}×)")
        if a.compile:
            ce, cs = torch.compile(enc), torch.compile(small)
            with torch.inference_mode():
                k0, k1 = alternating([lambda: ce(input_ids=ids), lambda: cs(input_ids=ids)], a.repeats)
            rows.append(row(f"MiniLM-L6 encoder, {a.batch}×{a.tokens} tokens, torch.compile", share, k0, k1, c))
            print(rows[-1])
            encoder += f", compiled {k0 / k1:.2f}"

    if not a.no_decoder:
        dec, _ = load_model("smollm2", "lm")
        dec.eval()
        small, share, shapes = low_rank(dec, a.decoder_budget, read(a.decoder_ranks))
        head = tuple(dec.get_output_embeddings().weight.shape[::-1])  # (d_in, vocab)
        prompt = torch.randint(1000, 20000, (1, a.prompt), generator=torch.Generator().manual_seed(0))

        def decode(m) -> float:
            """Per-token time of ``--gen`` greedy steps with the KV cache, after an untimed prefill."""
            out = m(input_ids=prompt, use_cache=True)
            start = time.perf_counter()
            for _ in range(a.gen):
                out = m(input_ids=out.logits[:, -1:].argmax(-1), past_key_values=out.past_key_values, use_cache=True)
            return (time.perf_counter() - start) / a.gen

        with torch.inference_mode():
            p0, p1 = alternating([lambda: dec(input_ids=prompt), lambda: small(input_ids=prompt)], a.repeats)
            decode(dec), decode(small)  # warm-up
            times = [(decode(dec), decode(small)) for _ in range(a.repeats)]
        d0, d1 = (statistics.median(t) for t in zip(*times))
        cp, cd = ceiling(shapes, a.prompt, a.repeats, head), ceiling(shapes, 1, max(a.repeats, 20), head)
        rows.append(row(f"SmolLM2-135M prefill, {a.prompt} tokens", share, p0, p1, cp))
        print(rows[-1])
        rows.append(row(f"SmolLM2-135M decode, per token ({a.gen} after the prompt)", share, d0, d1, cd))
        print(rows[-1])
        def whole(c):
            return (c["dense"] + c["head"]) / (c["low_rank"] + c["head"])

        decoder = (f"{'; ' if encoder else ''}{p0 / p1:.2f} prefill, {d0 / d1:.2f} decode (ceilings with the tied "
                   f"head {whole(cp):.2f}, {whole(cd):.2f})")
    else:
        decoder = ""
    print(f"README row: | `python benchmarks/bench_rank_speed.py` | low-rank / original CPU time: MiniLM at "
          f"{a.encoder_budget:.0%} of the parameters; SmolLM2 at {a.decoder_budget:.0%}, prefill and per-token decode; "
          f"matmul ceilings | {encoder}{decoder}, {a.threads} threads | ≥ 1.33 (SoftLMs: 1.33–1.72) |")

if __name__ == "__main__":
    main()
