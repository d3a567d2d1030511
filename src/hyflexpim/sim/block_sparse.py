"""Block-sparse attention: the predictor scores blocks of keys for blocks of queries, and a kernel computes only
the kept blocks (gather their K and V rows, then one batched matmul per head and query block): the work scales
with the kept share, not with the sequence squared, so it is faster than dense attention on a CPU.

The kernels of the attention kind ``block`` (its method folder: hyflexpim/methods/predictors/block/; the
per-query kinds stay the exact reference): queries and keys in blocks of ``block`` tokens; for each query block
and head the ceil(keep · valid key blocks) key blocks (at least 1) with the highest score are kept — the first block
(``keep_first``) and the query block's own diagonal block (``keep_diagonal``) forced in and counted. Scores
(``score``):

- ``quest``    — Quest's page bound (Tang et al., ICML 2024): per key block the channel-wise min and max of its
                 keys; a query's bound is Σ_d max(q_d·max_d, q_d·min_d), the block's score the largest bound of
                 its queries (one page per block: ``prediction.kind: page_bound``);
- ``centroid`` — the dot product of each query with the block's mean key (the block's centroid), largest over
                 the query block (priced as ``page_bound``, which counts 2 MACs per page where this needs 1);
- ``exact``    — the oracle: the attention mass of the block, from the dense probabilities (costs the dense
                 attention; the ceiling of the block predictors).

The exact part: ``exact: float`` runs :func:`block_attention` (only the kept blocks; masks and additive biases
gathered for the kept entries); ``exact: digital`` runs the digital-PIM datapath on the kept entries as a mask
(the accuracy of the chip's precisions; not the fast path).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from hyflexpim.config.methods import predictor_methods
from hyflexpim.errors import UserError
from hyflexpim.sim.digital_attention import digital_attention, float_attention, repeat_kv

NEG = -math.inf


def _pad(t: torch.Tensor, dim: int, to: int, value=0.0) -> torch.Tensor:
    extra = to - t.shape[dim]
    if extra == 0:
        return t
    pad = [0, 0] * (t.dim() - 1 - (dim % t.dim())) + [0, extra]
    return F.pad(t, pad, value=value)


def block_valid(valid: torch.Tensor | None, sq: int, sk: int, block: int, causal: bool = False) -> torch.Tensor:
    """[B|1, H|1, nqb, nkb]: key blocks holding at least one key a query of the block may attend to."""
    nqb, nkb = -(-sq // block), -(-sk // block)
    if valid is None:
        if not causal:
            return torch.ones(1, 1, nqb, nkb, dtype=torch.bool)
        last_q = torch.clamp(torch.arange(nqb) * block + block - 1, max=sq - 1) + (sk - sq)  # a block's last query
        return (torch.arange(nkb)[None, :] * block <= last_q[:, None])[None, None]
    v = _pad(_pad(valid, -1, nkb * block, False), -2, nqb * block, False)
    return v.reshape(*v.shape[:2], nqb, block, nkb, block).any(5).any(3)


def block_scores(query, key, valid: torch.Tensor | None, block: int, how: str, scaling: float,
                 causal: bool = False) -> torch.Tensor:
    """[B, H, nqb, nkb]: how much each key block matters to each query block (higher: more)."""
    B, H, Sq, D = query.shape
    Sk = key.shape[-2]
    nqb, nkb = -(-Sq // block), -(-Sk // block)
    k = repeat_kv(key, H // key.shape[1]).float()
    q = query.float()
    if how == "exact":
        s = torch.matmul(q, k.transpose(-1, -2)) * scaling
        if valid is not None:
            s = s.masked_fill(~valid, NEG)
        elif causal:
            s = s.masked_fill(~torch.ones(Sq, Sk, dtype=torch.bool).tril(Sk - Sq), NEG)
        p = torch.softmax(s, -1).nan_to_num(0.0)
        p = _pad(_pad(p, -1, nkb * block), -2, nqb * block)
        return p.reshape(B, H, nqb, block, nkb, block).sum((3, 5))
    kb = _pad(k, -2, nkb * block).reshape(B, H, nkb, block, D)
    every = valid is None and Sk == nkb * block  # no padding, no mask: no key to leave out
    if not every:
        tok = torch.ones(1, 1, Sk, dtype=torch.bool) if valid is None else valid.any(-2)  # keys any query may see
        tok = _pad(tok, -1, nkb * block, False).reshape(*tok.shape[:2], nkb, block, 1)
    if how == "quest":
        if every:
            kmax, kmin = kb.amax(3), kb.amin(3)
        else:
            kmax = torch.where(tok, kb, torch.tensor(NEG)).amax(3).nan_to_num(0.0, neginf=0.0)
            kmin = torch.where(tok, kb, torch.tensor(-NEG)).amin(3).nan_to_num(0.0, posinf=0.0)
        # Σ_d max(q_d·max_d, q_d·min_d) = q⁺·max + q⁻·min: one matmul over [q⁺, q⁻] and [max, min]
        per_query = torch.cat([q.clamp_min(0), q.clamp_max(0)], -1) @ torch.cat([kmax, kmin], -1).transpose(-1, -2)
    elif how == "centroid":
        mean = kb.mean(3) if every else (kb * tok).sum(3) / tok.sum(3).clamp_min(1)
        per_query = q @ mean.transpose(-1, -2)  # [B, H, Sq, nkb]
    else:
        raise UserError(f"hardware.attention.score: unknown block score {how!r}")
    per_query = _pad(per_query, -2, nqb * block, NEG)
    return per_query.reshape(B, H, nqb, block, nkb).amax(3)


def select_blocks(scores: torch.Tensor, ok: torch.Tensor, keep, sq: int, sk: int, block: int,
                  keep_first: bool = True, keep_diagonal: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(index [B, H, nqb, n] of the kept key blocks, slot_ok [B, H, nqb, n]): per query block the
    ceil(keep · valid key blocks) best-scored valid blocks (``keep``: a float, or per head [H, 1, 1]); forced
    blocks (first, diagonal) count among them (more when there are more forced than that). n is the largest count; a
    row with fewer has its extra slots off."""
    B, H, nqb, nkb = scores.shape
    ok = ok.expand(B, H, nqb, nkb)
    share = keep.reshape(1, -1, 1) if isinstance(keep, torch.Tensor) else keep
    count = torch.clamp(torch.ceil(share * ok.sum(-1).float()).long(), min=1)  # [B, H, nqb]
    s = torch.where(ok, scores.float(), torch.tensor(NEG))
    forced = torch.zeros(nqb, nkb, dtype=torch.bool)
    if keep_first:
        forced[:, 0] = True
    if keep_diagonal:
        own = (torch.clamp(torch.arange(nqb) * block + block - 1, max=sq - 1) + (sk - sq)) // block
        forced[torch.arange(nqb), own.clamp(0, nkb - 1)] = True
    s = torch.where(forced & ok, torch.tensor(-NEG), s)
    count = torch.maximum(count, (forced & ok).sum(-1))  # never fewer than the forced blocks
    n = int(count.max())
    top = s.topk(min(n, nkb), -1)
    slot_ok = (torch.arange(top.indices.shape[-1]) < count[..., None]) & (top.values > NEG)
    return top.indices, slot_ok


CHUNK_ELEMENTS = 1 << 24  # gathered K (or V) elements per pass over query blocks: memory stays bounded at any length


def block_attention(query, key, value, index: torch.Tensor, slot_ok: torch.Tensor, block: int,
                    bias: torch.Tensor | None = None, causal: bool = False, scaling: float | None = None,
                    weights: bool = False):
    """Float attention of query blocks over their kept key blocks only -> (out [B, Sq, Hq, D], probabilities
    [B, Hq, Sq, Sk] or None, the number of entries computed within the mask). ``index``/``slot_ok``
    [B, Hq, nqb, n] from :func:`select_blocks`; ``bias`` an additive mask [B|1, H|1, Sq, Sk] (0 where allowed,
    −inf where not; gathered for the kept entries only); ``causal`` masks keys after the query (aligned to the
    last keys). Gathers the K and V rows of the kept blocks, then batched matmuls per head and query block, in
    passes over the query blocks of at most ``CHUNK_ELEMENTS`` gathered elements: work and memory ∝ kept blocks.
    Equal to dense attention masked to the same entries (tested)."""
    B, H, Sq, D = query.shape
    Sk = key.shape[-2]
    scaling = D ** -0.5 if scaling is None else scaling
    nqb, nkb, n = -(-Sq // block), -(-Sk // block), index.shape[-1]
    k = _pad(repeat_kv(key, H // key.shape[1]), -2, nkb * block).reshape(B * H * nkb, block * D)
    v = _pad(repeat_kv(value, H // value.shape[1]), -2, nkb * block).reshape(B * H * nkb, block * D)
    base = (torch.arange(B * H) * nkb).reshape(B, H, 1, 1)  # first block of each (batch, head)
    qb = _pad(query * scaling, -2, nqb * block).reshape(B, H, nqb, block, D)  # the scaling on Q: fewer numbers
    out = torch.empty(B, H, nqb, block, D, dtype=torch.promote_types(query.dtype, value.dtype))
    dense = torch.zeros(B, H, nqb, block, nkb * block) if weights else None
    rows = torch.full((nqb,), block)
    rows[-1] = Sq - (nqb - 1) * block  # real queries per block
    if bias is not None:
        bias = _pad(bias.float(), -2, nqb * block).expand(B, H, nqb * block, Sk).reshape(B, H, nqb, block, Sk)
    chunk = max(1, CHUNK_ELEMENTS // max(1, B * H * n * block * D))
    kept = 0
    for c0 in range(0, nqb, chunk):
        c1 = min(nqb, c0 + chunk)
        c = c1 - c0
        idx = index[:, :, c0:c1]
        rows_of = (idx + base).reshape(-1)  # whole blocks of K and V rows: contiguous copies
        ks = k.index_select(0, rows_of).reshape(B, H, c, n * block, D)
        vs = v.index_select(0, rows_of).reshape(B, H, c, n * block, D)
        s = torch.matmul(qb[:, :, c0:c1], ks.transpose(-1, -2))  # [B, H, c, block, n·block], scaled
        kpos = (idx[..., None] * block + torch.arange(block)).reshape(B, H, c, 1, n * block)
        ok = slot_ok[:, :, c0:c1, :, None].expand(B, H, c, n, block).reshape(B, H, c, 1, n * block) & (kpos < Sk)
        if causal:
            qpos = (torch.arange(c0 * block, c1 * block) + (Sk - Sq)).reshape(1, 1, c, block, 1)
            ok = ok & (kpos <= qpos)
        if not bool(ok.all()):
            s.masked_fill_(~ok, NEG)
        if bias is not None:
            s.add_(bias[:, :, c0:c1].gather(-1, kpos.clamp_max(Sk - 1).expand(B, H, c, block, n * block)))
            kept += int(torch.isfinite(s).reshape(B, H, c * block, n * block)[:, :, : max(0, Sq - c0 * block)].sum())
        elif causal:
            kept += int(ok.reshape(B, H, c * block, n * block)[:, :, : max(0, Sq - c0 * block)].sum())
        else:
            kept += int(ok.sum((0, 1, 3, 4)).mul(rows[c0:c1]).sum())
        p = torch.softmax(s, -1)
        if causal or bias is not None:
            p = p.nan_to_num_(0.0)  # a row with no allowed key: zeros (without either, slot 0 always holds a key)
        out[:, :, c0:c1] = torch.matmul(p.to(vs.dtype), vs)
        if weights:
            dense[:, :, c0:c1].scatter_add_(-1, kpos.expand(B, H, c, block, n * block), p)
    out = out.reshape(B, H, nqb * block, D)[:, :, :Sq]
    probs = dense.reshape(B, H, nqb * block, nkb * block)[:, :, :Sq, :Sk].to(query.dtype) if weights else None
    return out.transpose(1, 2).contiguous(), probs, kept


def _bias_of(attention_mask: torch.Tensor | None, sk: int) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    m = attention_mask[..., :sk]
    if m.dtype == torch.bool:
        return torch.where(m, torch.zeros(()), torch.tensor(NEG))
    m = m.float()
    return torch.where(m > torch.finfo(torch.float32).min / 2, m, torch.tensor(NEG))


def block_sparse_attention(query, key, value, attention_mask, scaling, cfg, ctx, share, dropout=0.0,
                           training=False):
    """The ``block`` kind's attention (called by ``hyflexpim.sim.sparse_attention.sparse_attention``):
    ((out [B, Sq, Hq, D], probabilities), kept entries)."""
    if isinstance(share, torch.Tensor) and share.numel() not in (1, query.shape[1]):
        raise UserError(f"hardware.attention.profile: {share.numel()} heads for a layer of {query.shape[1]}")
    _B, _H, Sq, _ = query.shape
    Sk = key.shape[-2]
    valid = ctx.valid if attention_mask is not None else None
    with torch.no_grad():
        scores = block_scores(query.detach(), key.detach(), valid, cfg.block, cfg.score, ctx.scaling, ctx.causal)
        ok = block_valid(valid, Sq, Sk, cfg.block, ctx.causal and attention_mask is None)
        index, slot_ok = select_blocks(scores, ok, share, Sq, Sk, cfg.block, cfg.keep_first, cfg.keep_diagonal)
    if cfg.exact == "float" and not (dropout > 0 and training):
        out, probs, kept = block_attention(query, key, value, index, slot_ok, cfg.block,
                                           _bias_of(attention_mask, Sk), ctx.causal and attention_mask is None,
                                           ctx.scaling, weights=True)
        return (out, probs), kept
    mask = _entries(index, slot_ok, valid, Sq, Sk, cfg.block, ctx.causal)
    if attention_mask is not None and attention_mask.is_floating_point():
        bias = attention_mask[..., :Sk].float().expand(mask.shape)
        mask = torch.where(mask, bias, torch.tensor(torch.finfo(torch.float32).min))
    if cfg.exact == "float":
        out = float_attention(query, key, value, mask, ctx.scaling, False, dropout, training)
    else:
        out = digital_attention(query, key, value, mask, ctx.scaling, cfg, False, dropout, training)
    return out, int((mask if mask.dtype == torch.bool else mask > torch.finfo(torch.float32).min / 2).sum())


def _entries(index, slot_ok, valid, sq: int, sk: int, block: int, causal: bool) -> torch.Tensor:
    """Boolean [B, H, Sq, Sk]: the entries the kept blocks hold (within the mask)."""
    B, H, nqb, _n = index.shape
    nkb = -(-sk // block)
    blocks = torch.zeros(B, H, nqb, nkb, dtype=torch.bool).scatter_(-1, index, slot_ok)
    m = blocks.repeat_interleave(block, 2).repeat_interleave(block, 3)[:, :, :sq, :sk]
    if valid is not None:
        return m & valid
    if causal:
        return m & torch.ones(sq, sk, dtype=torch.bool).tril(sk - sq)
    return m


__all__ = ["block_attention", "block_scores", "block_sparse_attention", "block_valid", "select_blocks"]


def __getattr__(name: str) -> object:
    """``BlockAttentionConfig``: the ``block`` folder's settings (hyflexpim.methods.predictors.block), re-exported."""
    if name == "BlockAttentionConfig":
        return predictor_methods()["block"].load("config")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
