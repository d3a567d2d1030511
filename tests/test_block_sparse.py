"""Block-sparse attention (hyflexpim.sim.block_sparse): the kernel that computes only the kept key blocks equals
dense attention masked to the same entries; the selection keeps ceil(keep · valid blocks) per query block; the
kind runs in a model through the attention registry."""

import math

import pytest
import torch

from conftest import cls_batches, tiny_bert, tiny_llama
from hyflexpim.sim.attention import attention_config
from hyflexpim.sim.block_sparse import (
    BlockAttentionConfig,
    _entries,
    block_attention,
    block_scores,
    block_valid,
    select_blocks,
)
from hyflexpim.sim.digital_attention import float_attention
from hyflexpim.sim.sparse_attention import enable_sparse_attention


def _qkv(B, H, Hk, Sq, Sk, D, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, Sq, D, generator=g), torch.randn(B, Hk, Sk, D, generator=g),
            torch.randn(B, Hk, Sk, D, generator=g))


@pytest.mark.parametrize("Sq,Sk,block,causal,padded,Hk", [(40, 40, 8, False, False, 4), (37, 37, 8, True, False, 2),
                                                          (50, 50, 16, False, True, 4), (5, 45, 8, True, False, 4),
                                                          (33, 33, 7, True, True, 1)])
def test_the_kernel_equals_dense_attention_masked_to_the_kept_blocks(Sq, Sk, block, causal, padded, Hk):
    B, H, D = 2, 4, 8
    q, k, v = _qkv(B, H, Hk, Sq, Sk, D)
    valid = None
    if padded:  # the second sequence's last keys are padding
        tok = torch.ones(B, Sk, dtype=torch.bool)
        tok[1, Sk - 11:] = False
        valid = tok[:, None, None, :].expand(B, 1, Sq, Sk)
        if causal:
            valid = valid & torch.ones(Sq, Sk, dtype=torch.bool).tril(Sk - Sq)
    for how in ("quest", "centroid", "exact"):
        scores = block_scores(q, k, valid, block, how, D ** -0.5, causal)
        ok = block_valid(valid, Sq, Sk, block, causal and valid is None)
        index, slot_ok = select_blocks(scores, ok, 0.3, Sq, Sk, block)
        bias = None if valid is None else torch.where(valid, 0.0, -math.inf)
        out, probs, kept = block_attention(q, k, v, index, slot_ok, block, bias, causal and valid is None,
                                           weights=True)
        mask = _entries(index, slot_ok, valid, Sq, Sk, block, causal)
        ref_out, ref_p = float_attention(q, k, v, mask, None)
        rows = mask.any(-1)  # a query with no kept key: zeros (dense masked attention is undefined there)
        assert torch.allclose(out.transpose(1, 2)[rows], ref_out.transpose(1, 2)[rows], atol=1e-5), how
        assert torch.allclose(probs[rows], ref_p[rows], atol=1e-6), how
        assert kept == int(mask.sum())


def test_selection_keeps_a_share_of_the_valid_blocks_with_the_forced_ones():
    B, H, nqb, nkb, block = 1, 2, 6, 6, 4
    S = nqb * block
    ok = block_valid(None, S, S, block, causal=True)
    assert torch.equal(ok[0, 0], torch.ones(nqb, nkb, dtype=torch.bool).tril())
    scores = torch.arange(nkb, dtype=torch.float32).flip(0).expand(B, H, nqb, nkb)  # block 0 best
    index, slot_ok = select_blocks(scores, ok, 0.5, S, S, block)
    kept = torch.zeros(B, H, nqb, nkb, dtype=torch.bool).scatter_(-1, index, slot_ok)
    want_counts = torch.tensor([max(math.ceil(0.5 * (i + 1)), min(i + 1, 2)) for i in range(nqb)])  # 2 forced
    assert torch.equal(kept[0, 0].sum(-1), want_counts)
    assert bool(kept[..., 0].all())  # the first block
    assert bool(kept[0, 0, torch.arange(nqb), torch.arange(nqb)].all())  # the diagonal block
    assert not bool((kept & ~ok).any())


def test_the_kind_runs_in_a_model_and_keeps_its_share():
    assert isinstance(attention_config({"kind": "block", "keep": 0.5}), BlockAttentionConfig)
    model = tiny_bert()
    inputs = {k: v for k, v in cls_batches(1)[0].items() if k != "labels"}
    with torch.no_grad():
        dense = model(**inputs).logits
        with enable_sparse_attention(model, BlockAttentionConfig(keep=1.0, block=4)):
            full = model(**inputs).logits
        with enable_sparse_attention(model, BlockAttentionConfig(keep=0.3, block=4, keep_first=False,
                                                                 keep_diagonal=False)) as h:
            sparse = model(**inputs).logits
        with enable_sparse_attention(model, BlockAttentionConfig(keep=0.3, block=4, exact="digital")):
            digital = model(**inputs).logits
    assert torch.allclose(full, dense, atol=1e-5)  # every block kept: dense attention
    assert float((sparse - dense).abs().max()) > 1e-6 and 0.2 < h.density() < 0.6
    assert torch.isfinite(digital).all()


def test_the_kind_runs_in_a_causal_decoder():
    model = tiny_llama()
    ids = torch.randint(0, model.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        dense = model(input_ids=ids).logits
        with enable_sparse_attention(model, BlockAttentionConfig(keep=1.0, block=8)):
            full = model(input_ids=ids).logits
        with enable_sparse_attention(model, BlockAttentionConfig(keep=0.3, block=8, score="centroid")):
            sparse = model(input_ids=ids).logits
    assert torch.allclose(full, dense, atol=1e-4)
    assert torch.isfinite(sparse).all() and float((sparse - dense).abs().max()) > 1e-6


def test_passes_over_query_blocks_give_the_same_result(monkeypatch):
    import hyflexpim.sim.block_sparse as bs

    q, k, v = _qkv(2, 4, 4, 45, 45, 8, seed=3)
    scores = block_scores(q, k, None, 8, "quest", 8 ** -0.5, True)
    index, slot_ok = select_blocks(scores, block_valid(None, 45, 45, 8, True), 0.4, 45, 45, 8)
    whole = block_attention(q, k, v, index, slot_ok, 8, None, True, weights=True)
    monkeypatch.setattr(bs, "CHUNK_ELEMENTS", 1)  # one query block per pass
    parts = block_attention(q, k, v, index, slot_ok, 8, None, True, weights=True)
    assert torch.allclose(whole[0], parts[0], atol=1e-6) and torch.allclose(whole[1], parts[1], atol=1e-7)
    assert whole[2] == parts[2]
