"""Running statistics of attention rows, per layer and head; memory grows with layers x heads x bins,
never with the number of examples.

For one row p over its n valid keys (padding and causal masks removed; padded queries dropped):
entropy H = −Σ p log p (nats) and H / log n (0 when n = 1); top-1 mass max p; k₉₀, k₉₉ = the fewest
keys holding 90 % / 99 % of the mass (count, and fraction of n); "binary" when max p ≥ 0.9; the mass on
the first key (attention sink) and on special tokens; a 20-bin histogram of every score on [0, 1].
Within a layer, the Jensen–Shannon distance sqrt(JSD) (log base 2, so 0..1) between every two heads'
rows (Clark et al. 2019), averaged over a uniform subsample of at most ``JS_ROWS`` rows per batch.
"""

from __future__ import annotations

import math

import torch

BINS = 20
JS_ROWS = 128  # rows per batch and layer the head-to-head Jensen–Shannon distances are averaged over
STATS = ("entropy", "entropy_norm", "top1", "k90", "k90_frac", "k99", "k99_frac", "binary", "first_token",
         "special_tokens")


class LayerStats:
    def __init__(self, heads: int):
        self.heads = heads
        self.rows = 0
        self.sums = {k: torch.zeros(heads, dtype=torch.float64) for k in STATS}
        self.hist = torch.zeros(heads, BINS, dtype=torch.float64)
        self.js = torch.zeros(heads, heads, dtype=torch.float64)
        self.first = K_FIRST  # keys the partial selection looks at first: from the k99 seen in the last batch

    def mean(self, key: str) -> list[float]:
        return (self.sums[key] / max(self.rows, 1)).tolist()


K_FIRST = 16  # keys the partial selection looks at first in a layer's first batch; then the 95th percentile of
#               the last batch's k99 (rows needing more for 99 % of their mass are sorted in full)


def mass_counts(p: torch.Tensor, mass: torch.Tensor, shares=(0.9, 0.99), first: int = K_FIRST):
    """(top-1, [k_share for each share]): the largest p and the fewest keys holding each share of ``mass``, per row
    of ``p`` [..., S] (non-negative). Equal to counting over the row sorted in full; for rows of more than
    4 · ``first`` keys the sort is partial: the ``first`` largest values (torch.topk), then a full sort of only
    the rows those do not bring to the largest share (shorter rows: one sort, cheaper than selection and
    fall-back). The count is a binary search in the running sum (non-decreasing), not a pass over the row."""
    S = p.shape[-1]
    k = S if 4 * first >= S else first  # short rows: one sort is cheaper than a selection and its fall-back
    top = p.topk(k, -1).values if k < S else p.sort(-1, descending=True).values  # the sort's first k values
    csum = top.cumsum(-1)
    bound = torch.stack([s * mass for s in shares], -1)  # [..., shares]
    counts = torch.searchsorted(csum, bound)  # #(running sum < bound): the keys before the share is reached
    rest = csum[..., -1] < max(shares) * mass  # the prefix misses the mass: these rows need their full sort
    if k < S and bool(rest.any()):
        idx = rest.nonzero(as_tuple=True)
        full = p[idx].sort(-1, descending=True).values.cumsum(-1)
        counts[idx] = torch.searchsorted(full, bound[idx])
    return top[..., 0], list((counts + 1).unbind(-1))


def row_stats(p: torch.Tensor, valid: torch.Tensor, special: torch.Tensor | None = None,
              first: int = K_FIRST) -> dict[str, torch.Tensor]:
    """Statistics of rows ``p`` [..., S] (e.g. [R, H, S]) with ``valid`` keys broadcastable to it: each [...].
    ``first``: keys the partial selection for k90/k99 looks at first (the counts do not depend on it)."""
    return _masked_stats(torch.where(valid, p, torch.zeros((), dtype=p.dtype)), valid, special, first)


def _masked_stats(p: torch.Tensor, valid: torch.Tensor, special: torch.Tensor | None, first: int) -> dict:
    """``row_stats`` of rows already zero at their invalid keys."""
    n = valid.sum(-1).to(p.dtype).expand(p.shape[:-1]).clamp_min(1)
    ent = -(p * p.clamp_min(torch.finfo(p.dtype).tiny).log()).sum(-1)  # x·log x, 0 at 0 (as xlogy)
    mass = p.sum(-1)
    top1, (k90, k99) = mass_counts(p, mass, first=first)
    k90, k99 = k90.to(p.dtype).minimum(n), k99.to(p.dtype).minimum(n)
    out = {"entropy": ent, "entropy_norm": torch.where(n > 1, ent / n.log().clamp_min(1e-12), torch.zeros_like(ent)),
           "top1": top1, "k90": k90, "k90_frac": k90 / n, "k99": k99, "k99_frac": k99 / n,
           "binary": (top1 >= 0.9).to(p.dtype), "first_token": p[..., 0],
           "special_tokens": (p * special).sum(-1) if special is not None else torch.zeros_like(ent)}
    return out


def js_distance_sum(p: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Σ over rows of the Jensen–Shannon distance between every two heads: [H, H] (rows p [R, H, S]).

    JSD(a, b) = H((a + b) / 2) − (H(a) + H(b)) / 2 with H the entropy: all pairs in one pass."""
    p = torch.where(valid, p, torch.zeros((), dtype=p.dtype))
    ent = -torch.special.xlogy(p, p).sum(-1)  # [R, H]
    m = (p[:, :, None] + p[:, None]) / 2  # [R, H, H, S]: every pair of heads at once
    jsd = (-torch.special.xlogy(m, m).sum(-1) - (ent[:, :, None] + ent[:, None]) / 2).clamp_min(0) / math.log(2)
    return jsd.sqrt().double().sum(0)


def widths(S: int, smallest: int = 16, ratio: float = 1.5) -> list[int]:
    """Row widths the rows of a batch are cut to (each row to the first width holding its last valid key): from
    ``smallest`` up by ``ratio`` (multiples of 8), ``S`` last — at most ~2.5 log2(S / 16) + 1 groups, each row
    computed over at most 1.5 × its own extent instead of the batch's full width."""
    out, w = [], float(smallest)
    while w < S:
        out.append(min(S, 8 * math.ceil(w / 8)))
        w *= ratio
    return sorted(set(out) | {S})


def update(stats: LayerStats, p: torch.Tensor, valid: torch.Tensor, query_ok: torch.Tensor | None = None,
           special_keys: torch.Tensor | None = None, with_js: bool = True) -> None:
    """Add one batch of one layer: ``p`` [B, H, Sq, Sk], ``valid`` [B|1, H|1, Sq, Sk], ``query_ok`` [B, Sq],
    ``special_keys`` [B, Sk] (bool). Only the kept queries' rows are gathered (padding and queries with no valid
    key dropped), each cut to the width (``widths``) that holds its last valid key: keys past it are invalid and
    change no statistic, so padded batches and causal rows cost their real length."""
    B, H, Sq, Sk = p.shape
    valid = valid.expand(B, valid.shape[1], Sq, Sk)
    any_head = valid.any(1)  # [B, Sq, Sk]
    keep = any_head.any(-1)  # [B, Sq]
    if query_ok is not None:
        keep &= query_ok.bool()
    idx = keep.flatten().nonzero().flatten()
    if idx.numel() == 0:
        return
    extent = Sk - any_head.flatten(0, 1)[idx].flip(-1).to(torch.uint8).argmax(-1)  # one past the last valid key
    k99s, lo = [], 0
    for w in widths(Sk):
        part = idx[(extent > lo) & (extent <= w)]
        lo = w
        if part.numel() == 0:
            continue
        b, i = part // Sq, part % Sq
        rows, vrows = p[b, :, i, :w], valid[b, :, i, :w]  # [R, H, w], [R, H|1, w]
        special = special_keys[b, None, :w].double() if special_keys is not None else None
        q = torch.where(vrows, rows, torch.zeros((), dtype=rows.dtype))
        st = _masked_stats(q, vrows, special, stats.first)
        k99s.append(st["k99"].flatten())
        sums = torch.stack([st[k] for k in STATS]).sum(1, dtype=torch.float64)  # [stats, H]
        for k, v in zip(STATS, sums):
            stats.sums[k] += v
        # histogram: invalid keys are 0 after the mask, so they land in bin 0 and are taken out of it
        bins = (q * BINS).to(torch.int32).clamp_(0, BINS - 1).add_(BINS * torch.arange(H, dtype=torch.int32)[:, None])
        hist = torch.bincount(bins.flatten(), minlength=H * BINS).reshape(H, BINS)
        hist[:, 0] -= (~vrows).sum((0, 2)).expand(H)
        stats.hist += hist.double()
    k99 = torch.cat(k99s)
    stats.first = max(K_FIRST, int(k99.kthvalue(max(1, int(0.95 * k99.numel()))).values))
    stats.rows += idx.numel()
    if with_js and H > 1:
        stride = max(1, idx.numel() // JS_ROWS)  # a uniform subsample of rows: JS costs H passes
        sub = idx[::stride]
        b, i = sub // Sq, sub % Sq
        stats.js += js_distance_sum(p[b, :, i], valid[b, :, i]) * (idx.numel() / sub.numel())


def compare_rows(p: torch.Tensor, q: torch.Tensor, valid: torch.Tensor, query_ok: torch.Tensor | None):
    """(rows, top-1 agreements, Σ total-variation distance) between clean ``p`` and noisy ``q`` [B, H, Sq, Sk]."""
    B, H, Sq, Sk = p.shape
    valid = valid.expand(B, H, Sq, Sk)
    z = torch.zeros((), dtype=torch.float64)
    pv, qv = torch.where(valid, p.double(), z), torch.where(valid, q.double(), z)
    ok = valid.any(-1)
    if query_ok is not None:
        ok &= query_ok.bool()[:, None, :]
    agree = (pv.argmax(-1) == qv.argmax(-1)) & ok
    tv = 0.5 * (pv - qv).abs().sum(-1) * ok
    return int(ok.sum()), int(agree.sum()), float(tv.sum())
