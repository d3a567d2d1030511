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

    def mean(self, key: str) -> list[float]:
        return (self.sums[key] / max(self.rows, 1)).tolist()


def row_stats(p: torch.Tensor, valid: torch.Tensor, special: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Statistics of rows ``p`` [R, H, S] with ``valid`` [R, 1 or H, S] keys: each [R, H]."""
    p = torch.where(valid, p, torch.zeros((), dtype=p.dtype))
    n = valid.sum(-1).to(p.dtype).expand(p.shape[:-1]).clamp_min(1)
    ent = -torch.special.xlogy(p, p).sum(-1)
    top1 = p.amax(-1)
    csum = p.sort(-1, descending=True).values.cumsum(-1)
    mass = p.sum(-1, keepdim=True)
    k90 = ((csum < 0.9 * mass).sum(-1) + 1).to(p.dtype).minimum(n)
    k99 = ((csum < 0.99 * mass).sum(-1) + 1).to(p.dtype).minimum(n)
    out = {"entropy": ent, "entropy_norm": torch.where(n > 1, ent / n.log().clamp_min(1e-12), torch.zeros_like(ent)),
           "top1": top1, "k90": k90, "k90_frac": k90 / n, "k99": k99, "k99_frac": k99 / n,
           "binary": (top1 >= 0.9).to(p.dtype), "first_token": p[..., 0],
           "special_tokens": (p * special).sum(-1) if special is not None else torch.zeros_like(ent)}
    return out


def js_distance_sum(p: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Σ over rows of the Jensen–Shannon distance between every two heads: [H, H] (rows p [R, H, S]).

    JSD(a, b) = H((a + b) / 2) − (H(a) + H(b)) / 2 with H the entropy: one pass per head."""
    p = torch.where(valid, p, torch.zeros((), dtype=p.dtype))
    H = p.shape[1]
    ent = -torch.special.xlogy(p, p).sum(-1)  # [R, H]
    out = torch.zeros(H, H, dtype=torch.float64)
    for i in range(H):
        m = (p[:, i : i + 1] + p) / 2
        jsd = (-torch.special.xlogy(m, m).sum(-1) - (ent[:, i : i + 1] + ent) / 2).clamp_min(0) / math.log(2)
        out[i] = jsd.sqrt().double().sum(0)
    return out


def update(stats: LayerStats, p: torch.Tensor, valid: torch.Tensor, query_ok: torch.Tensor | None = None,
           special_keys: torch.Tensor | None = None, with_js: bool = True) -> None:
    """Add one batch of one layer: ``p`` [B, H, Sq, Sk], ``valid`` [B|1, H|1, Sq, Sk], ``query_ok`` [B, Sq],
    ``special_keys`` [B, Sk] (bool)."""
    B, H, Sq, Sk = p.shape
    valid = valid.expand(B, valid.shape[1], Sq, Sk)
    rows = p.permute(0, 2, 1, 3).reshape(B * Sq, H, Sk)
    vrows = valid.permute(0, 2, 1, 3).reshape(B * Sq, valid.shape[1], Sk)
    keep = torch.ones(B * Sq, dtype=torch.bool) if query_ok is None else query_ok.reshape(B * Sq).bool()
    keep &= vrows.any(-1).any(-1)
    rows, vrows = rows[keep], vrows[keep]
    if rows.shape[0] == 0:
        return
    special = None
    if special_keys is not None:
        special = special_keys[:, None, :].expand(B, Sq, Sk).reshape(B * Sq, 1, Sk)[keep].double()
    st = row_stats(rows, vrows, special)
    for k, v in st.items():
        stats.sums[k] += v.double().sum(0)
    stats.rows += rows.shape[0]
    vr = vrows.expand_as(rows)
    bins = (rows * BINS).long().clamp_(0, BINS - 1) + BINS * torch.arange(H).reshape(1, H, 1)
    stats.hist += torch.bincount(bins[vr], minlength=H * BINS).reshape(H, BINS).double()
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
