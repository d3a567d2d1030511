"""The attention statistics without a full sort per row (hyflexpim.analysis.metrics): k90/k99 by a partial
selection equal the sort-based counts exactly, and the update (rows cut to their extent) equals the row-copying
one it replaced: counts, top-1 and histogram exactly, float sums along a row to 1e-6."""

import math

import torch

from hyflexpim.analysis.metrics import BINS, JS_ROWS, LayerStats, js_distance_sum, mass_counts, update


def _sorted_counts(p, mass, share):
    csum = p.sort(-1, descending=True).values.cumsum(-1)
    return (csum < share * mass[..., None]).sum(-1) + 1


def test_partial_selection_counts_equal_the_full_sort():
    g = torch.Generator().manual_seed(0)
    for S, temp, first in ((64, 3.0, 16), (64, 0.3, 16), (200, 1.0, 8), (5, 1.0, 16), (33, 5.0, 1)):
        p = torch.softmax(torch.randn(300, 4, S, generator=g) * temp, -1)
        p[:7, :, S // 2:] = 0  # padded keys
        p[7:9] = 0  # rows with no mass
        p[9:12] = 1.0 / S  # ties everywhere
        p[12, 0, :] = 0
        p[12, 0, 3] = 1  # one-hot
        mass = p.sum(-1)
        top1, (k90, k99) = mass_counts(p, mass, first=first)
        assert torch.equal(top1, p.amax(-1))
        assert torch.equal(k90, _sorted_counts(p, mass, 0.9)), (S, temp)
        assert torch.equal(k99, _sorted_counts(p, mass, 0.99)), (S, temp)


def _reference_update(stats, p, valid, query_ok=None, special_keys=None, with_js=True):
    """The row-copying, sort-based update this module had before (kept here as the reference)."""
    B, H, Sq, Sk = p.shape
    valid = valid.expand(B, valid.shape[1], Sq, Sk)
    rows = p.permute(0, 2, 1, 3).reshape(B * Sq, H, Sk)
    vrows = valid.permute(0, 2, 1, 3).reshape(B * Sq, valid.shape[1], Sk)
    keep = torch.ones(B * Sq, dtype=torch.bool) if query_ok is None else query_ok.reshape(B * Sq).bool()
    keep &= vrows.any(-1).any(-1)
    rows, vrows = rows[keep], vrows[keep]
    special = None
    if special_keys is not None:
        special = special_keys[:, None, :].expand(B, Sq, Sk).reshape(B * Sq, 1, Sk)[keep].double()
    q = torch.where(vrows, rows, torch.zeros((), dtype=rows.dtype))
    n = vrows.sum(-1).to(q.dtype).expand(q.shape[:-1]).clamp_min(1)
    ent = -torch.special.xlogy(q, q).sum(-1)
    top1 = q.amax(-1)
    mass = q.sum(-1)
    k90 = _sorted_counts(q, mass, 0.9).to(q.dtype).minimum(n)
    k99 = _sorted_counts(q, mass, 0.99).to(q.dtype).minimum(n)
    st = {"entropy": ent, "entropy_norm": torch.where(n > 1, ent / n.log().clamp_min(1e-12), torch.zeros_like(ent)),
          "top1": top1, "k90": k90, "k90_frac": k90 / n, "k99": k99, "k99_frac": k99 / n,
          "binary": (top1 >= 0.9).to(q.dtype), "first_token": q[..., 0],
          "special_tokens": (q * special).sum(-1) if special is not None else torch.zeros_like(ent)}
    for k, v in st.items():
        stats.sums[k] += v.double().sum(0)
    stats.rows += rows.shape[0]
    vr = vrows.expand_as(rows)
    bins = (rows * BINS).long().clamp_(0, BINS - 1) + BINS * torch.arange(H).reshape(1, H, 1)
    stats.hist += torch.bincount(bins[vr], minlength=H * BINS).reshape(H, BINS).double()
    if with_js and H > 1:
        stride = max(1, rows.shape[0] // JS_ROWS)
        stats.js += js_distance_sum(rows[::stride], vrows[::stride]) * (rows.shape[0] / rows[::stride].shape[0])


EXACT = ("top1", "k90", "k90_frac", "k99", "k99_frac", "binary", "first_token")  # no float sum along the row


def test_update_equals_the_row_copying_reference():
    g = torch.Generator().manual_seed(4)
    B, H, S = 5, 4, 40
    lengths = torch.tensor([40, 31, 12, 1, 25])
    ok = torch.arange(S)[None, :] < lengths[:, None]  # [B, S]
    causal = torch.ones(S, S, dtype=torch.bool).tril()
    for valid in (ok[:, None, None, :].expand(B, 1, S, S), (ok[:, None, None, :] & causal)):
        logits = torch.randn(B, H, S, S, generator=g) * 2
        p = torch.softmax(logits.masked_fill(~valid, -math.inf), -1).nan_to_num(0.0)
        special = torch.zeros(B, S, dtype=torch.bool)
        special[:, 0] = True
        special[torch.arange(B), (lengths - 1).clamp_min(0)] = True
        for js in (True, False):
            a, b = LayerStats(H), LayerStats(H)
            update(a, p, valid, ok, special, js)
            _reference_update(b, p, valid, ok, special, js)
            assert a.rows == b.rows == int(ok.sum())
            for k in a.sums:  # a row's float32 sums (entropy, mass) change with the width it is cut to by an ulp
                tol = 1e-12 if k in EXACT else 1e-6
                assert torch.allclose(a.sums[k], b.sums[k], rtol=tol, atol=tol), k
            assert torch.equal(a.hist, b.hist)
            assert torch.allclose(a.js, b.js, rtol=1e-9, atol=1e-12)
