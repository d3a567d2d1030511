"""Dynamic sparse attention kinds: the oracle at 100 % is dense attention, PQ with one centroid per key and
one sub-space per dimension orders keys exactly, causal masks hold, bad settings are one line."""

import itertools

import pytest
import torch

from conftest import cls_batches, lm_batches, random_qkv, tiny_bert, tiny_llama
from hyflexpim.errors import UserError
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.digital_attention import digital_attention, float_attention
from hyflexpim.sim.pq_codebooks import fit_pq_codebooks
from hyflexpim.sim.sparse_attention import (
    Context,
    PQAttentionConfig,
    TopKAttentionConfig,
    WindowAttentionConfig,
    enable_sparse_attention,
    exact_scores,
    predicted_scores,
    select,
    sparse_attention,
)


def _qkv(B=2, Hq=4, Hk=2, S=12, D=8, seed=0):
    return random_qkv(B, Hq, Hk, S, D, seed)


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
    q, k, _v = _qkv(B=1, Hq=2, Hk=2, S=6, D=4)
    books = k[0].permute(0, 2, 1).reshape(2, 4, 6, 1)  # [Hk, M=D, K=S, d=1]: every key's own value
    cfg = PQAttentionConfig(subspaces=4, centroids=6, keep=0.5)
    exact = exact_scores(q, k)
    pq = predicted_scores(cfg, q, k, Context(torch.ones(1, 1, 6, 6, dtype=torch.bool), 0.5, books=books))
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


def test_sparse_kinds_through_the_hardware_config_price_their_keep_and_predictor():
    from hyflexpim import apply_plan, decompose, make_plan, score_importance
    from hyflexpim.hw import evaluate as price
    from hyflexpim.sim.attention import attention_plan

    hw = HardwareConfig(attention={"kind": "pq", "keep": 0.25})
    assert hw.chip().prediction.kind == "none" and hw.chip().digital.attention_density == 1.0  # both in the plan
    assert hw.attention.value_bits == 8  # the chip's precision for the exact part
    model = tiny_llama()
    decompose(model)
    plan = make_plan(model, score_importance(model, "singular_value"), 100)
    sparse = plan.model_copy(update={"attention": attention_plan(hw.attention)})
    assert sparse.attention.keep == 0.25 and sparse.attention.settings == hw.attention  # the typed settings
    from hyflexpim.hw.costs_prediction import chip_prediction

    assert chip_prediction(sparse.attention) == {"kind": "pq", "subspaces": 8, "centroids": 16}  # derived from them
    from hyflexpim.plan import AttentionPlan, Plan

    assert Plan.model_validate_json(sparse.model_dump_json()).attention == sparse.attention  # saved with the plan
    dense, pq = (price(p, "hyflexpim", [4096]) for p in (plan, sparse))
    free = price(sparse.model_copy(update={"attention": AttentionPlan(kind="window", keep=0.25)}),  # predicts nothing
                 "hyflexpim", [4096])
    assert pq.energy_by_role_j["prediction"][0] > 0 and "prediction" not in free.energy_by_role_j
    assert dense.throughput_tok_s[0] < pq.throughput_tok_s[0] < free.throughput_tok_s[0]
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
    from hyflexpim.sim.sparse_quality import predictor_recall, top_k_recall

    q, k, _v = _qkv(B=1, Hq=2, Hk=2, S=8, D=4)
    valid = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    exact = predicted_scores(TopKAttentionConfig(), q, k)
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


# -- every sparse kind's folder, the published baselines included (hyflexpim/methods/predictors/) ---------------

from hyflexpim.config.methods import predictor_methods  # noqa: E402
from hyflexpim.sim.attention import attention_config  # noqa: E402

KINDS = sorted(predictor_methods())


def _cfg(kind, **kw):
    return attention_config({"kind": kind, "exact": "float", **kw})


def _pq_books(k, M=2, K=4):
    return torch.randn(k.shape[1], M, K, k.shape[-1] // M, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("causal", [False, True])
def test_every_kind_keeping_everything_is_dense_and_none_sees_the_future(kind, causal):
    q, k, v = _qkv(S=12, D=8)
    books = _pq_books(k) if kind == "pq" else None
    extra = {"pq": {"subspaces": 2, "centroids": 4}, "quest": {"page": 4, "dense_layers": 0},
             "block": {"block": 2}}.get(kind, {})
    ref, rp = float_attention(q, k, v, None, None, causal)
    state = {}
    for layer in range(3):  # cascade kinds carry state from layer to layer
        out, p = sparse_attention(q, k, v, None, None, _cfg(kind, keep=1.0, **extra), causal, books, layer=layer,
                                  state=state)
        assert torch.allclose(out, ref, atol=1e-6) and torch.allclose(p, rp, atol=1e-6)
    state = {}
    for layer in range(3):
        _, p = sparse_attention(q, k, v, None, None, _cfg(kind, keep=0.3, **extra), causal, books, layer=layer,
                                state=state)
        if causal:
            assert float(p[..., torch.ones(12, 12, dtype=torch.bool).triu(1)].abs().max()) == 0.0
        assert torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)), atol=1e-5)
    assert state["kept"] < 0.7 * state["valid"] and state["valid"] == 3 * 2 * 4 * (78 if causal else 144)


def test_sanger_at_full_precision_orders_like_the_exact_scores_and_its_threshold_thins():
    q, k, _ = _qkv(B=1, S=16, D=8)
    exact = exact_scores(q, k)
    est = predicted_scores(_cfg("sanger", bits=16), q, k)
    assert torch.allclose(est, exact, rtol=1e-3, atol=1e-3)
    low = predicted_scores(_cfg("sanger", bits=2), q, k)
    assert float((low - exact).abs().mean()) > 0.05  # 2 bits: a coarse estimate
    valid = torch.ones(1, 1, 16, 16, dtype=torch.bool)
    dens = [float(select(est, valid, 1.0, False, False, threshold=t, scaling=8 ** -0.5).float().mean())
            for t in (0.01, 0.05, 0.2)]
    assert dens[0] > dens[1] > dens[2] > 0


def test_quest_page_scores_bound_every_key_of_the_page():
    q, k, _ = _qkv(B=1, Hq=2, Hk=2, S=32, D=8)
    cfg = _cfg("quest", page=8)
    ctx = Context(torch.ones(1, 1, 32, 32, dtype=torch.bool), 1.0)
    bound = predicted_scores(cfg, q, k, ctx)
    exact = exact_scores(q, k)
    own = (torch.arange(32)[:, None] // 8) == (torch.arange(32)[None, :] // 8)
    assert bool((bound[..., ~own] >= exact[..., ~own] - 1e-5).all())  # Σ max(q·min, q·max) >= q·k in its page
    assert bool((bound[..., own] == torch.finfo(torch.float32).max).all())  # the query's own page: always kept
    pages = bound[0, 0, 0].reshape(4, 8)
    assert bool((pages == pages[:, :1]).all())  # one score per page


def test_h2o_keeps_the_recent_keys_and_then_the_heavy_hitters():
    q, k, v = _qkv(B=1, Hq=2, Hk=2, S=16, D=8)
    cfg = _cfg("h2o", keep=0.5, recent=0.5, keep_first=False, keep_diagonal=False)
    _, p = sparse_attention(q, k, v, None, None, cfg, is_causal=True)
    row = p[0, 0, 15]  # 16 valid keys, 8 kept: the 4 most recent + 4 heavy hitters
    assert bool((row[12:] > 0).all()) and int((row > 0).sum()) == 8
    probs = float_attention(q, k, v, None, None, True)[1]
    heavy = (probs.cumsum(-2) - probs)[0, 0, 15, :12]
    assert set((row[:12] > 0).nonzero().flatten().tolist()) == set(heavy.topk(4).indices.tolist())


def test_spatten_never_revives_a_pruned_token():
    q, k, v = _qkv(B=2, S=20, D=8)
    cfg = _cfg("spatten", keep=0.4, keep_first=False, keep_diagonal=False)
    state, sets = {}, []
    for layer in range(4):
        _, p = sparse_attention(q, k, v, None, None, cfg, False, layer=layer, state=state)
        sets.append((p > 0).any(1).any(1))  # [B, Sk] tokens attended at this layer
    assert bool(sets[0].all())  # the first layer is dense: it gives the first importance
    assert int(sets[1][0].sum()) == 8  # ceil(0.4 x 20) tokens survive
    for a, b in itertools.pairwise(sets):
        assert bool((b <= a).all())  # a pruned token never comes back


def test_the_handle_measures_the_density():
    model = tiny_bert()
    inputs = {k: v for k, v in cls_batches(1)[0].items() if k != "labels"}
    with torch.no_grad(), enable_sparse_attention(model, _cfg("topk", keep=0.25, keep_first=False,
                                                             keep_diagonal=False)) as h:
        model(**inputs)
    assert 0.25 <= h.density() < 0.25 + 0.15  # ceil() per row on short rows


def test_per_layer_and_head_keep_from_a_sparsity_profile(tmp_path):
    import json

    from hyflexpim.sim.sparse_attention import profile_keeps

    prof = {"keep_for_90": {"0": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "1": [0.05, 0.05, 0.9, 0.9, 0.2, 0.2]}}
    path = tmp_path / "sparsity_profile.json"
    path.write_text(json.dumps(prof))
    keeps = profile_keeps(path, 0.25)
    flat = torch.cat([keeps[0].flatten(), keeps[1].flatten()])
    assert float(flat.mean()) == pytest.approx(0.25, abs=1e-6)  # the budget is the mean over layers and heads
    assert keeps[0].flatten().argsort().tolist() == list(range(6))  # in proportion to the profile
    model = tiny_llama()
    ids = lm_batches(1)[0]["input_ids"]
    cfg = _cfg("topk", keep=0.25, profile=str(path), keep_first=False, keep_diagonal=False)
    with torch.no_grad(), enable_sparse_attention(model, cfg) as h:
        model(input_ids=ids)
    with torch.no_grad(), enable_sparse_attention(model, _cfg("topk", keep=0.25, keep_first=False,
                                                             keep_diagonal=False)) as flat_h:
        model(input_ids=ids)
    assert h.density() == pytest.approx(flat_h.density(), abs=0.05)  # the same budget, spread differently
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(UserError, match="sparsity profile"):
        enable_sparse_attention(model, _cfg("topk", profile=str(bad)))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"keep_for_90": {"0": [0.5] * 6}}))
    with pytest.raises(UserError, match="no layer 1"):
        enable_sparse_attention(model, _cfg("topk", profile=str(one)))


def test_gathering_the_kept_rows_equals_masked_attention():
    from hyflexpim.sim.sparse_attention import gather_attention

    q, k, v = _qkv(B=2, Hq=4, Hk=2, S=16, D=8)
    idx = exact_scores(q, k).topk(5, dim=-1).indices
    mask = torch.zeros(2, 4, 16, 16, dtype=torch.bool).scatter_(-1, idx, True)
    ref, _ = float_attention(q, k, v, mask, None)
    assert torch.allclose(gather_attention(q, k, v, idx), ref, atol=1e-6)


def test_the_attention_analysis_sees_the_sparse_attention():
    from hyflexpim.sim.attention_capture import capture_attention

    model = tiny_llama()
    ids = lm_batches(1)[0]["input_ids"]
    seen = {}

    def sink(layer, p, valid):
        seen[layer] = p

    cfg = _cfg("topk", keep=0.25, keep_first=False, keep_diagonal=False)
    with torch.no_grad(), enable_sparse_attention(model, cfg) as h:
        with capture_attention(model, sink):
            model(input_ids=ids)
        intact = all(hasattr(m, "_hyflexpim_layer") and hasattr(m, "_hyflexpim_sparse") for m in h.modules)
    n = torch.arange(1, ids.shape[1] + 1)
    assert set(seen) == {0, 1}
    for p in seen.values():
        assert bool(((p > 0).sum(-1) <= torch.ceil(0.25 * n)).all())  # what the analysis sees is the sparse rows
    assert h.state["kept"] > 0 and intact  # the capture leaves the sparse kind's labels in place


def test_sparse_attention_trains_through_the_kept_entries():
    model = tiny_bert().train()
    batch = cls_batches(1)[0]
    with enable_sparse_attention(model, _cfg("topk", keep=0.5)):
        loss = model(**batch).loss
        loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "attention.self.query" in n and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and float(sum(g.abs().sum() for g in grads)) > 0


def test_sanger_at_one_bit_is_the_sign_estimate_and_correlates_with_the_exact_scores():
    """1 bit has no symmetric range (qmax = 0): it is the sign at scale mean|t|. Before, the scale was max/0 and
    every score NaN. On random Q, K of dimension 64 sign(q)·sign(k) correlates with q·k at 2/π ≈ 0.64 (arcsine
    law for Gaussian pairs); 0.5 leaves room for the sample."""
    q, k, _ = _qkv(B=1, S=64, D=64)
    est = predicted_scores(_cfg("sanger", bits=1), q, k)
    assert bool(torch.isfinite(est).all())
    exact = exact_scores(q, k)
    corr = torch.corrcoef(torch.stack([est.flatten(), exact.flatten()]))[0, 1]
    assert float(corr) > 0.5
