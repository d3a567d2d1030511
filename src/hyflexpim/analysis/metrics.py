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
    fall-back)."""
    S = p.shape[-1]
    k = S if S <= 4 * first else first  # short rows: one sort is cheaper than a selection and its fall-back
    top = p.topk(k, -1).values if k < S else p.sort(-1, descending=True).values  # the sort's first k values
    csum = top.cumsum(-1)
    bound = [s * mass for s in shares]
    counts = [(csum < b[..., None]).sum(-1) for b in bound]
    rest = csum[..., -1] < max(shares) * mass  # the prefix misses the mass: these rows need their full sort
    if k < S and bool(rest.any()):
        idx = rest.nonzero(as_tuple=True)
        full = p[idx].sort(-1, descending=True).values.cumsum(-1)
        for c, b in zip(counts, bound):
            c[idx] = (full < b[idx][..., None]).sum(-1)
    return top[..., 0], [c + 1 for c in counts]


def row_stats(p: torch.Tensor, valid: torch.Tensor, special: torch.Tensor | None = None,
              first: int = K_FIRST) -> dict[str, torch.Tensor]:
    """Statistics of rows ``p`` [..., S] (e.g. [R, H, S]) with ``valid`` keys broadcastable to it: each [...].
    ``first``: keys the partial selection for k90/k99 looks at first (the counts do not depend on it)."""
    p = torch.where(valid, p, torch.zeros((), dtype=p.dtype))
    n = valid.sum(-1).to(p.dtype).expand(p.shape[:-1]).clamp_min(1)
    ent = -torch.special.xlogy(p, p).sum(-1)
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


def update(stats: LayerStats, p: torch.Tensor, valid: torch.Tensor, query_ok: torch.Tensor | None = None,
           special_keys: torch.Tensor | None = None, with_js: bool = True) -> None:
    """Add one batch of one layer: ``p`` [B, H, Sq, Sk], ``valid`` [B|1, H|1, Sq, Sk], ``query_ok`` [B, Sq],
    ``special_keys`` [B, Sk] (bool). Only the kept queries' rows are gathered (padding and queries with no valid
    key dropped)."""
    B, H, Sq, Sk = p.shape
    valid = valid.expand(B, valid.shape[1], Sq, Sk)
    keep = valid.any(-1).any(1)  # [B, Sq]
    if query_ok is not None:
        keep &= query_ok.bool()
    idx = keep.flatten().nonzero().flatten()
    if idx.numel() == 0:
        return
    b, i = idx // Sq, idx % Sq
    rows, vrows = p[b, :, i], valid[b, :, i]  # [R, H, Sk], [R, H|1, Sk]
    special = special_keys[b][:, None, :].double() if special_keys is not None else None
    st = row_stats(rows, vrows, special, stats.first)
    k99 = st["k99"].flatten()
    stats.first = max(K_FIRST, int(k99.kthvalue(max(1, int(0.95 * k99.numel()))).values))
    for k, v in st.items():
        stats.sums[k] += v.double().sum(0)
    stats.rows += rows.shape[0]
    bins = (rows * BINS).long().clamp_(0, BINS - 1) + BINS * torch.arange(H).reshape(1, H, 1)
    bins = torch.where(vrows, bins, torch.full((), H * BINS))  # invalid keys into one extra bin, dropped
    stats.hist += torch.bincount(bins.flatten(), minlength=H * BINS + 1)[: H * BINS].reshape(H, BINS).double()
    if with_js and H > 1:
        stride = max(1, rows.shape[0] // JS_ROWS)  # a uniform subsample of rows: JS costs H passes
        stats.js += js_distance_sum(rows[::stride], vrows[::stride]) * (rows.shape[0] / rows[::stride].shape[0])


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
