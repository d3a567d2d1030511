"""CPU time of sparse attention against dense attention, one run, same inputs and threads (prints ratios).

    .venv/bin/python benchmarks/bench_sparse_attention.py [--lens 128,2048] [--keep 0.12] [--repeats 5]
    .venv/bin/python benchmarks/bench_sparse_attention.py --block-curve [--lens 512,1024,2048,4096,8192]

One layer of BERT-base-sized attention (12 heads of 64, batch 1), float32. Dense: Q·Kᵀ, softmax, ·V
(``hyflexpim.sim.digital_attention.float_attention``). Sparse, per query the top ceil(keep · L) keys:

* exact part  given the kept indices, gather their K and V rows and attend over them only
              (``hyflexpim.sim.sparse_attention.gather_attention``);
* selection   torch.topk over the predicted scores of each row;
* PQ scoring  the predicted scores from the M·K lookup table of each query (M = 8, K = 16) as a one-hot
              matmul over the keys' codes (the CPU analogue of HARDSEA's analog table; its inner dimension
              M·K = 128 is twice the head size, so on a CPU it costs more than exact Q·Kᵀ);
* masked      the toolkit's simulator path: dense scores, a boolean mask of the kept entries;
* token set   SpAtten-style structure: one kept key set per head for every query (gather once, then dense
              matmuls over keep · L keys).

Each line prints the median of ``--repeats`` timings and the ratio to dense at the same length.

``--block-curve``: the block-sparse kernel (``hyflexpim.sim.block_sparse``, blocks of ``--block`` = 64 tokens,
Quest's min/max bound per key block, the top ceil(keep · blocks) key blocks per query block, first and diagonal
blocks forced in) against dense attention over L: prediction + selection + the kernel that computes only the
kept blocks, and the kernel alone, each over dense eager attention (``float_attention``: scores materialised)
and over ``torch.nn.functional.scaled_dot_product_attention`` (PyTorch's fused CPU kernel). The variants are
timed in turn within each repeat (a busy machine slows all alike); medians. Eager dense is skipped above
``--eager-max`` (its L² score matrix).
"""

import argparse
import math
import statistics
import time

import torch


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def block_curve(a) -> None:
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    from hyflexpim.sim.block_sparse import block_attention, block_scores, block_valid, select_blocks
    from hyflexpim.sim.digital_attention import float_attention

    torch.manual_seed(0)
    H, D = 12, 64
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; BERT-base attention (12 x 64), batch 1, "
          f"keep {a.keep:.0%} of the key blocks of {a.block} tokens (Quest bound), medians of {a.repeats}")
    print("| L | dense eager ms | dense SDPA ms | block sparse (predict + select + kernel) / eager | / SDPA "
          "| kernel alone / eager | / SDPA | kept entries |")
    print("|---|---|---|---|---|---|---|---|")
    for L in (int(x) for x in a.lens.split(",")):
        q, k, v = (torch.randn(1, H, L, D) for _ in range(3))
        ok = block_valid(None, L, L, a.block)

        def plan():
            scores = block_scores(q, k, None, a.block, "quest", D ** -0.5)
            return select_blocks(scores, ok, a.keep, L, L, a.block)

        index, slot_ok = plan()

        def sparse():
            i, s = plan()
            return block_attention(q, k, v, i, s, a.block)

        variants = {"sparse": sparse, "kernel": lambda: block_attention(q, k, v, index, slot_ok, a.block),
                    "sdpa": lambda: sdpa(q, k, v)}
        if a.eager_max >= L:
            variants["eager"] = lambda: float_attention(q, k, v, None, None)
        times = {name: [] for name in variants}
        for fn in variants.values():
            fn()  # warm-up
        for _ in range(a.repeats):
            for name, fn in variants.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        m = {name: statistics.median(ts) for name, ts in times.items()}
        kept = block_attention(q, k, v, index, slot_ok, a.block)[2] / (H * L * L)
        eager = m.get("eager")

        def r(x, base):
            return f"{m[x] / m[base]:.2f}x" if base in m else "–"

        print(f"| {L} | {eager * 1e3 if eager else float('nan'):.1f} | {m['sdpa'] * 1e3:.1f} | {r('sparse', 'eager')} "
              f"| {r('sparse', 'sdpa')} | {r('kernel', 'eager')} | {r('kernel', 'sdpa')} | {kept:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lens", default="128,2048")
    ap.add_argument("--keep", type=float, default=0.12)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--block-curve", action="store_true", help="the block-sparse kernel against dense over L")
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--eager-max", type=int, default=4096)
    a = ap.parse_args()
    if a.block_curve:
        block_curve(a)
        return

    from hyflexpim.sim.digital_attention import float_attention
    from hyflexpim.sim.sparse_attention import gather_attention, select

    torch.manual_seed(0)
    H, D, M, K = 12, 64, 8, 16
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; BERT-base attention (12 x 64), batch 1, "
          f"keep {a.keep:.0%}")
    print("| L | dense ms | exact part (gather) | + top-k selection | + PQ scoring | masked simulator path "
          "| token set per head |")
    print("|---|---|---|---|---|---|---|")
    for L in (int(x) for x in a.lens.split(",")):
        q, k, v = (torch.randn(1, H, L, D) for _ in range(3))
        k_keep = max(1, math.ceil(a.keep * L))
        scores = torch.randn(1, H, L, L)
        idx = scores.topk(k_keep, dim=-1).indices
        books = torch.randn(H, M, K, D // M)
        codes = torch.randint(0, K, (H, L, M))
        onehot = torch.zeros(H, L, M * K)
        onehot.scatter_(-1, codes + torch.arange(M) * K, 1.0)

        def pq_scores():
            table = torch.einsum("hqmd,hmkd->hqmk", q[0].reshape(H, L, M, D // M), books).reshape(H, L, M * K)
            return torch.matmul(table, onehot.transpose(-1, -2))[None]

        valid = torch.ones(1, 1, L, L, dtype=torch.bool)
        t_dense = timed(lambda: float_attention(q, k, v, None, None), a.repeats)
        t_exact = timed(lambda: gather_attention(q, k, v, idx, None), a.repeats)
        t_sel = timed(lambda: gather_attention(q, k, v, scores.topk(k_keep, dim=-1).indices, None), a.repeats)
        t_pq = timed(lambda: gather_attention(q, k, v, pq_scores().topk(k_keep, dim=-1).indices, None), a.repeats)
        t_mask = timed(lambda: float_attention(q, k, v, select(scores, valid, a.keep, False, False), None), a.repeats)
        tokens = scores[:, :, 0].topk(k_keep, dim=-1).indices[..., None].expand(1, H, k_keep, D)

        def token_set():
            return float_attention(q, torch.gather(k, 2, tokens), torch.gather(v, 2, tokens), None, None)

        t_tok = timed(token_set, a.repeats)
        cells = [f"{t / t_dense:.2f}x" for t in (t_exact, t_sel, t_pq, t_mask, t_tok)]
        print(f"| {L} | {t_dense * 1e3:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
