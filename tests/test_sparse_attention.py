"""Dynamic sparse attention kinds: the oracle at 100 % is dense attention, PQ with one centroid per key and
one sub-space per dimension orders keys exactly, causal masks hold, bad settings are one line."""

import pytest
import torch
from conftest import cls_batches, lm_batches, tiny_bert, tiny_llama

from hyflexpim.errors import UserError
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.digital_attention import digital_attention, float_attention
from hyflexpim.sim.sparse_attention import (PQAttentionConfig, TopKAttentionConfig, WindowAttentionConfig,
                                            enable_sparse_attention, fit_pq_codebooks, predicted_scores,
                                            select, sparse_attention)


def _qkv(B=2, Hq=4, Hk=2, S=12, D=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, Hq, S, D, generator=g), torch.randn(B, Hk, S, D, generator=g),
            torch.randn(B, Hk, S, D, generator=g))


@pytest.mark.parametrize("exact", ["float", "digital"])
@pytest.mark.parametrize("causal", [False, True])
def test_oracle_keeping_everything_is_dense_attention(exact, causal):
    q, k, v = _qkv()
    cfg = TopKAttentionConfig(keep=1.0, exact=exact)
    out, p = sparse_attention(q, k, v, None, None, cfg, is_causal=causal)
    if exact == "float":
        ref, rp = float_attention(q, k, v, None, None, causal)
    else:
        ref, rp = digital_attention(q, k, v, None, None, cfg, causal)
    assert torch.equal(out, ref) and torch.equal(p, rp)


def test_causal_rows_never_see_a_future_key():
    q, k, v = _qkv(S=10)
    for cfg in (TopKAttentionConfig(keep=0.3), WindowAttentionConfig(keep=0.3)):
        _, p = sparse_attention(q, k, v, None, None, cfg, is_causal=True)
        future = torch.ones(10, 10, dtype=torch.bool).triu(1)
        assert float(p[..., future].abs().max()) == 0.0
        kept = (p > 0).sum(-1)
        n = torch.arange(1, 11)
        assert bool((kept <= torch.clamp(torch.ceil(0.3 * n), min=1) + 2).all())  # + first and diagonal
        assert torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)), atol=1e-3)


def test_select_keeps_the_top_fraction_of_valid_keys():
    pred = torch.arange(10.0).reshape(1, 1, 1, 10)
    valid = torch.ones(1, 1, 1, 10, dtype=torch.bool)
    valid[..., 8:] = False
    chosen = select(pred, valid, 0.25, keep_first=False, keep_diagonal=False)
    assert chosen[0, 0, 0].tolist() == [False] * 6 + [True, True, False, False]  # ceil(0.25 x 8 valid) = 2
    chosen = select(pred, valid, 0.25, keep_first=True, keep_diagonal=False)
    assert bool(chosen[0, 0, 0, 0])


def test_pq_with_a_centroid_per_key_and_a_subspace_per_dimension_orders_exactly():
    q, k, v = _qkv(B=1, Hq=2, Hk=2, S=6, D=4)
    books = k[0].permute(0, 2, 1).reshape(2, 4, 6, 1)  # [Hk, M=D, K=S, d=1]: every key's own value
    cfg = PQAttentionConfig(subspaces=4, centroids=6, keep=0.5)
    exact = predicted_scores("topk", q, k, cfg)
    pq = predicted_scores("pq", q, k, cfg, books)
    assert torch.allclose(pq, exact, atol=1e-5)
    assert torch.equal(pq.argsort(-1), exact.argsort(-1))


def test_pq_end_to_end_on_a_tiny_model_and_its_noise():
    model = tiny_bert()
    batches = cls_batches(3)
    books = fit_pq_codebooks(model, batches, subspaces=2, centroids=4)
    assert set(books) == {0, 1} and books[0].shape == (4, 2, 4, 4)  # 4 heads of 8 dims: 2 x 4
    inputs = {k: v for k, v in batches[0].items() if k != "labels"}
    with torch.no_grad():
        dense = model(**inputs).logits
        with enable_sparse_attention(model, PQAttentionConfig(subspaces=2, centroids=4, keep=1.0, exact="float"),
                                     books):
            full = model(**inputs).logits
        with enable_sparse_attention(model, PQAttentionConfig(subspaces=2, centroids=4, keep=0.25), books):
            sparse = model(**inputs).logits
    assert torch.allclose(full, dense, atol=1e-5)  # keep 100 %: the prediction does not matter
    assert float((sparse - dense).abs().max()) > 1e-6  # 25 % of the keys: the output moves


def test_sparse_kinds_through_the_hardware_config_price_their_keep():
    hw = HardwareConfig(attention={"kind": "topk", "keep": 0.25})
    assert hw.chip().digital.attention_density == 0.25
    assert hw.attention.value_bits == 8  # the chip's precision for the exact part
    model = tiny_llama()
    from hyflexpim import apply_plan, decompose, make_plan, score_importance

    decompose(model)
    plan = make_plan(model, score_importance(model, "singular_value"), 100)
    twin = apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"}, attention={"kind": "window", "keep": 0.5}))
    with torch.no_grad():
        out = twin(input_ids=lm_batches(1)[0]["input_ids"]).logits
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("attention, field", [
    ({"kind": "topk", "keep": 0}, "keep"), ({"kind": "topk", "keep": 1.5}, "keep"),
    ({"kind": "pq", "centroids": 0}, "centroids"), ({"kind": "pq", "subspaces": 0}, "subspaces"),
])
def test_bad_settings_are_one_line(attention, field):
    with pytest.raises(UserError) as e:
        HardwareConfig(attention=attention)
    assert field in str(e.value) and "\n" not in str(e.value)


def test_subspaces_must_divide_the_head_size():
    q, k, v = _qkv(D=8)
    with pytest.raises(UserError, match="subspaces"):
        sparse_attention(q, k, v, None, None, PQAttentionConfig(subspaces=3), books=torch.zeros(2, 3, 4, 2))
    with pytest.raises(UserError, match="codebooks"):
        enable_sparse_attention(tiny_bert(), PQAttentionConfig())


def test_recall_of_the_exact_top_k():
    from hyflexpim.sim.sparse_attention import predictor_recall, top_k_recall

    q, k, v = _qkv(B=1, Hq=2, Hk=2, S=8, D=4)
    valid = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    exact = predicted_scores("topk", q, k, TopKAttentionConfig())
    n, r = top_k_recall(exact, exact, valid, 0.25)
    assert n == 16 and r == pytest.approx(16.0)  # the oracle recalls itself
    n, r = top_k_recall(-exact, exact, valid, 0.25)
    assert r == 0.0  # the reverse order recalls nothing at 25 %
    model = tiny_bert()
    batches = cls_batches(2)
    books = fit_pq_codebooks(model, batches, subspaces=2, centroids=4)
    clean = predictor_recall(model, batches, PQAttentionConfig(subspaces=2, centroids=4), books, keeps=(0.25,))
    noisy = predictor_recall(model, batches, PQAttentionConfig(subspaces=2, centroids=4, predictor_noise=20.0),
                             books, keeps=(0.25,))
    oracle = predictor_recall(model, batches, TopKAttentionConfig(), keeps=(0.25,))
    window = predictor_recall(model, batches, WindowAttentionConfig(), keeps=(0.25,))
    assert oracle[0.25] == pytest.approx(1.0)
    assert clean[0.25] > 0.5 > noisy[0.25] > 0  # PQ well above chance (~0.25); drowned in noise, near chance
    assert window[0.25] < clean[0.25]
