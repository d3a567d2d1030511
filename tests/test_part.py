"""ParT from weaver-core as a hyflexpim model: exact equivalence with weaver's own attention, the capture, top-k
attention, the model walk, checkpoints; jets data: JetClass ROOT files through uproot, splits, AUC."""

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("weaver")

from hyflexpim.data.jets import FEATURES, JetData, load_jets, save_jets
from hyflexpim.models.part import _weaver, build_part, capture_attention, load_part, save_part, topk_attention


def jets_batch(b=3, p=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(b, p, 17, generator=g)
    v = torch.randn(b, p, 4, generator=g) * 50
    v[..., 3] = v[..., :3].norm(dim=-1) + 1
    mask = torch.ones(b, p, dtype=torch.bool)
    mask[0, 15:] = False
    mask[1, 5:] = False
    f[~mask] = 0
    v[~mask] = 0
    return {"features": f, "vectors": v, "mask": mask}


def test_attention_is_weavers_own_to_float_precision():
    model = build_part("small", 5).eval()
    batch = jets_batch()
    ref = copy.deepcopy(model)
    original = _weaver().Attention
    for m in ref.part.modules():
        if isinstance(m, original):
            m.__class__ = original  # weaver's forward (scaled_dot_product_attention, packed projection)
    torch.testing.assert_close(model(**batch).logits, ref(**batch).logits, atol=1e-5, rtol=1e-5)


def test_capture_gives_row_stochastic_maps_on_real_particles_and_the_pair_bias():
    model = build_part("small", 5).eval()
    batch = jets_batch()
    with torch.no_grad(), capture_attention(model) as caps:
        model(**batch)
    assert len(caps) == model.config.num_layers + model.config.num_cls_layers
    p, bias = caps[0][0]
    assert p.shape == (3, 8, 20, 20) and bias.shape == (3, 8, 20, 20)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 8, 20))
    assert p[1, :, :, 5:].abs().max() == 0  # padded keys get nothing
    cls_p, cls_bias = caps[-1][0]
    assert cls_p.shape == (3, 8, 1, 21) and cls_bias is None  # the class token over itself + the particles


def test_top1_attention_keeps_one_key_per_row_and_changes_the_output():
    model = build_part("small", 5).eval()
    batch = jets_batch()
    dense = model(**batch).logits
    with torch.no_grad(), topk_attention(model, 1), capture_attention(model) as caps:
        sparse = model(**batch).logits
    p = caps[0][0][0]
    real = batch["mask"][:, None, :].expand(p.shape[:-1])  # padded queries tie on every key: not counted
    assert ((p > 0).sum(-1)[real] == 1).all()
    assert not torch.allclose(dense, sparse)
    assert all(m.hyflexpim_topk is None for _, m in model.attention_blocks())  # restored


def test_model_walk_finds_every_matrix_with_roles_and_layers():
    from hyflexpim.algo.decompose import DecomposeConfig, placement
    from hyflexpim.models.discover import find_matrices

    model = build_part("small", 5)
    found = {m.name: m for m in find_matrices(model)}
    cfg = model.config
    for i in range(cfg.num_layers):
        assert found[f"part.blocks.{i}.attn.in_proj"].role == "qkv"
        assert found[f"part.blocks.{i}.attn.in_proj"].shape == (3 * cfg.hidden_size, cfg.hidden_size)
        assert found[f"part.blocks.{i}.attn.out_proj"].role == "o"
        assert found[f"part.blocks.{i}.fc1"].role == "ffn_in" and found[f"part.blocks.{i}.fc2"].role == "ffn_out"
        assert found[f"part.blocks.{i}.fc1"].layer == i
    assert found["part.cls_blocks.0.attn.in_proj"].layer == cfg.num_layers
    assert found["part.fc.0"].role == "head"
    pair = [m for m in found.values() if m.name.startswith("part.pair_embed")]
    # pair embedding: 4 inputs (ln Δ, ln kT, ln z, ln m²) → pair_embed_dims → one bias per head
    assert len(pair) == len(cfg.pair_embed_dims) + 1 and all(m.kind == "conv1x1" and m.layer is None for m in pair)
    assert pair[0].shape == (cfg.pair_embed_dims[0], 4) and pair[-1].shape == (cfg.num_heads, cfg.pair_embed_dims[-1])
    why = {m.name: placement(m, DecomposeConfig())[1] for m in found.values()}
    assert why["part.fc.0"].startswith("head") and "1×1 convolution" in why[pair[0].name]
    assert why["part.blocks.0.attn.in_proj"] is None
    assert "outside" in why["part.embed.embed.1"]


def test_decomposed_part_computes_the_same_function():
    from hyflexpim.algo.decompose import DecomposeConfig, decompose

    model = build_part("small", 5).eval()
    batch = jets_batch()
    ref = model(**batch).logits
    places = decompose(model, DecomposeConfig(rank_policy="full"))
    assert sum(p.analog for p in places) == 4 * (model.config.num_layers + model.config.num_cls_layers)
    torch.testing.assert_close(model(**batch).logits, ref, atol=2e-4, rtol=1e-4)


def test_checkpoint_round_trip_and_weaver_state_dicts(tmp_path):
    model = build_part("small", 5, seed=3).eval()
    batch = jets_batch()
    back = load_part(save_part(model, tmp_path / "m.pt")).eval()
    torch.testing.assert_close(back(**batch).logits, model(**batch).logits, atol=0, rtol=0)
    # a weaver training's state dict: the bare ParticleTransformer wrapped as `mod`; its shapes say `small`, and it is
    # built as the ParT repository's get_model builds (GELU after the pair embedding: another function, same tensors)
    torch.save({"mod." + k: v for k, v in model.part.state_dict().items()}, tmp_path / "weaver.pt")
    again = load_part(tmp_path / "weaver.pt").eval()
    assert again.config.name == "small" and again.config.pre_activation_pair is False
    for a, b in zip(again.part.state_dict().values(), model.part.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_a_checkpoint_of_another_shape_is_one_clear_error(tmp_path):
    from hyflexpim.errors import UserError

    state = build_part("small", 5).part.state_dict()
    torch.save(state, tmp_path / "small.pt")
    with pytest.raises(UserError, match="has 5 classes, not 10"):
        load_part(tmp_path / "small.pt", num_labels=10)
    state["embed.input_bn.weight"] = torch.zeros(9)
    torch.save(state, tmp_path / "nine.pt")
    with pytest.raises(UserError, match="9 inputs per particle"):
        load_part(tmp_path / "nine.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read ParT checkpoint"):
        load_part(tmp_path / "junk.pt")


def test_auc_matches_pairwise_counting():
    from hyflexpim.pipeline.jets_train import auc_one_vs_rest

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    scores = rng.random((300, 3)).round(1)  # many ties
    scores[np.arange(300), labels] += 0.3
    for c, auc in enumerate(auc_one_vs_rest(scores, labels)):
        pos, neg = scores[labels == c, c], scores[labels != c, c]
        pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
        assert auc == pytest.approx(pairs, abs=1e-12)


def _jets(n=40, p=12, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.arange(p)[None, :] < rng.integers(2, p + 1, n)[:, None]
    f = rng.normal(size=(n, p, 17)).astype(np.float32) * mask[..., None]
    v = np.abs(rng.normal(size=(n, p, 4))).astype(np.float32) * mask[..., None]
    return JetData(features=f, vectors=v, mask=mask, labels=rng.integers(0, 5, n), class_names=list("ABCDE"),
                   subjet=np.where(mask, rng.integers(0, 2, (n, p)), -1).astype(np.int8),
                   jet=rng.normal(size=(n, 4)).astype(np.float32))


def test_jets_file_round_trip_and_fixed_splits(tmp_path):
    data = _jets()
    back = load_jets(str(save_jets(data, tmp_path / "jets.npz")))
    for k in ("features", "vectors", "mask", "labels", "subjet", "jet"):
        np.testing.assert_array_equal(getattr(back, k), getattr(data, k))
    parts = [back.split_indices(s) for s in ("train", "validation", "test")]
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(data)))  # a partition
    np.testing.assert_array_equal(load_jets(str(tmp_path)).split_indices("test"), parts[2])  # same seed, same split


def test_jetclass_root_file_through_uproot(tmp_path):
    uproot = pytest.importorskip("uproot")
    import awkward as ak

    from hyflexpim.data.jetclass_root import PARTICLE_BRANCHES
    from hyflexpim.data.jets import JETCLASS_LABELS

    rng = np.random.default_rng(1)
    counts = np.array([3, 5, 2, 4])
    jagged = {b: ak.unflatten(rng.normal(size=counts.sum()).astype(np.float32), counts) for b in PARTICLE_BRANCHES}
    jagged["part_px"] = ak.unflatten(np.array([1, 9, 4, 2, 7, 3, 5, 8, 6, 1, 2, 3, 4, 5], np.float32), counts)
    jagged["part_energy"] = ak.unflatten(np.full(counts.sum(), 20.0, np.float32), counts)
    flat = {"jet_pt": np.array([500.0, 600, 700, 800]), "jet_eta": np.zeros(4), "jet_phi": np.zeros(4),
            "jet_energy": np.full(4, 900.0)}
    for k, lab in enumerate(JETCLASS_LABELS):
        flat[lab] = np.array([k == 1, k == 8, k == 0, k == 1], dtype=np.float32)
    with uproot.recreate(tmp_path / "JetClass.root") as f:
        f["tree"] = {**jagged, **flat}
    data = load_jets(str(tmp_path / "JetClass.root"))
    assert data.labels.tolist() == [1, 8, 0, 1] and data.class_names[8] == "Tbqq"
    assert data.mask.sum(1).tolist() == counts.tolist()
    px = data.vectors[1, :5, 0]
    assert (px.tolist() == sorted(px.tolist(), reverse=True)
            or np.all(np.diff(np.hypot(px, data.vectors[1, :5, 1])) <= 0))
    i = FEATURES.index("part_logptrel")
    pt = np.hypot(data.vectors[..., 0], data.vectors[..., 1])
    np.testing.assert_allclose(data.features[0, :3, i], np.log(pt[0, :3] / 500.0), rtol=1e-5)


def test_bad_jets_sources_are_one_line(tmp_path):
    from hyflexpim.errors import UserError

    with pytest.raises(UserError, match="jets source"):
        load_jets(str(tmp_path / "nothing.txt"))
    (tmp_path / "bad.root").write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="cannot read ROOT file"):
        load_jets(str(tmp_path / "bad.root"))
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(UserError, match="not a jets file"):
        load_jets(str(tmp_path / "x.npz"))


def test_features_and_pair_features_of_a_hand_made_two_particle_jet():
    """Two massless particles at known (pT, η, φ): the per-particle inputs and ParT's four pair features
    (ln Δ, ln kT, ln z, ln m²) equal the formulas worked by hand."""
    import math

    from hyflexpim.data.jets import features_from_particles
    from hyflexpim.models.part import _weaver

    (pt1, eta1, phi1), (pt2, eta2, phi2) = (300.0, 0.5, 0.1), (100.0, 0.7, -0.2)

    def four(pt, eta, phi):
        return [pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), pt * math.cosh(eta)]

    v = np.array([[four(pt1, eta1, phi1), four(pt2, eta2, phi2)]], np.float64)
    total = v[0].sum(0)
    jet_pt = math.hypot(total[0], total[1])
    jet_eta = math.asinh(total[2] / jet_pt)
    jet_phi = math.atan2(total[1], total[0])
    jet = np.array([[jet_pt, jet_eta, jet_phi, total[3]]])
    f = features_from_particles(v.astype(np.float32), np.ones((1, 2), bool), jet, np.array([[1, 0]]),
                                np.array([[0, 2]]))  # a charged hadron and a photon
    col = {n: f[0, :, i] for i, n in enumerate(FEATURES)}
    np.testing.assert_allclose(col["part_pt_log"], np.log([pt1, pt2]), rtol=1e-5)
    np.testing.assert_allclose(col["part_logptrel"], np.log(np.array([pt1, pt2]) / jet_pt), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(col["part_deta"], [eta1 - jet_eta, eta2 - jet_eta], atol=1e-5)  # η_jet > 0: unsigned
    np.testing.assert_allclose(col["part_dphi"], [phi1 - jet_phi, phi2 - jet_phi], atol=1e-5)
    assert col["part_charge"].tolist() == [1, 0] and col["part_isPhoton"].tolist() == [0, 1]
    assert col["part_isChargedHadron"].tolist() == [1, 0] and not col["part_d0"].any()
    # ParT's pair features, from weaver, on these four-momenta (for massless particles rapidity = η)
    xi = torch.tensor(v[0, 0], dtype=torch.float64).view(1, 4, 1)
    xj = torch.tensor(v[0, 1], dtype=torch.float64).view(1, 4, 1)
    lnkt, lnz, lndelta, lnm2 = _weaver().pairwise_lv_fts_pp(xi, xj, num_outputs=4).view(4).tolist()
    delta = math.hypot(eta1 - eta2, phi1 - phi2)
    m2 = 2 * pt1 * pt2 * (math.cosh(eta1 - eta2) - math.cos(phi1 - phi2))
    assert lndelta == pytest.approx(math.log(delta), rel=1e-6)
    assert lnkt == pytest.approx(math.log(min(pt1, pt2) * delta), rel=1e-6)
    assert lnz == pytest.approx(math.log(min(pt1, pt2) / (pt1 + pt2)), rel=1e-6)
    assert lnm2 == pytest.approx(math.log(m2), rel=1e-6)


def test_captured_probabilities_are_the_softmax_of_the_blocks_own_logits_and_pair_bias():
    model = build_part("small", 5).eval()
    batch = jets_batch()
    block = model.part.blocks[0]
    inputs = {}
    block.register_forward_pre_hook(lambda m, args, kw: inputs.update(x=args[0], **kw), with_kwargs=True)
    with torch.no_grad(), capture_attention(model) as caps:
        model(**batch)
    p, bias = caps[0][0]
    x = block.pre_attn_norm(inputs["x"])
    e, h = model.config.hidden_size, model.config.num_heads
    q, k, _ = block.attn.in_proj(x).split(e, dim=-1)
    q = q.view(3, -1, h, e // h).transpose(1, 2)
    k = k.view(3, -1, h, e // h).transpose(1, 2)
    logits = q @ k.transpose(-2, -1) / (e // h) ** 0.5 + inputs["attn_mask"]
    logits = logits.masked_fill(inputs["padding_mask"][:, None, None, :], float("-inf"))
    torch.testing.assert_close(p, torch.softmax(logits, -1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(bias, inputs["attn_mask"])


def test_attention_functions_run_on_part_through_the_transformers_contract():
    """set_attn_implementation routes every ParT block through a registered attention function with the pair bias
    and the padding as the additive float mask: transformers' eager attention there reproduces weaver's output."""
    from hyflexpim.sim.digital_attention import float_attention, is_supported_attention
    from hyflexpim.sim.sparse_attention import attention_hook

    model = build_part("small", 5).eval()
    batch = jets_batch()
    dense = model(**batch).logits
    seen = []

    def eager(module, q, k, v, mask, scaling=None, dropout=0.0, **kw):
        seen.append(module._hyflexpim_layer)
        return float_attention(q, k, v, mask, scaling)

    assert all(is_supported_attention(m) for _, m in model.attention_blocks())
    with torch.no_grad(), attention_hook(model, "test_eager", eager):
        routed = model(**batch).logits
    torch.testing.assert_close(routed, dense, atol=1e-5, rtol=1e-5)
    assert seen == [0, 1, 2, 3]  # particle blocks 0-2, then the class-attention block as layer 3
    assert all(m.hyflexpim_implementation is None for _, m in model.attention_blocks())  # restored


def test_sparse_kinds_on_part_top1_equals_the_models_own_top1_and_pq_keeps_its_share():
    """The run's sparse-attention kinds on ParT: oracle top-k at one key per row (pair bias in the prediction, float
    exact part) is the model's own top-1 attention; PQ prediction with codebooks fitted on real-particle keys keeps
    the asked share of entries."""
    from hyflexpim.sim.pq_codebooks import fit_pq_codebooks
    from hyflexpim.sim.sparse_attention import PQAttentionConfig, TopKAttentionConfig, enable_sparse_attention

    model = build_part("small", 5).eval()
    batch = jets_batch()
    dense = model(**batch).logits
    with torch.no_grad(), topk_attention(model, 1):  # the particle blocks; the class attention stays dense
        own = model(**batch).logits
    cfg = TopKAttentionConfig(keep=1e-3, keep_first=False, keep_diagonal=False, exact="float")
    with torch.no_grad(), enable_sparse_attention(model, cfg) as h:
        kind = model(**batch).logits
    torch.testing.assert_close(kind, own, atol=1e-4, rtol=1e-4)
    with torch.no_grad(), enable_sparse_attention(model, cfg.model_copy(update={"keep": 1.0})):
        every = model(**batch).logits  # every key kept: the pair bias stays on the kept entries -> dense
    torch.testing.assert_close(every, dense, atol=1e-4, rtol=1e-4)
    books = fit_pq_codebooks(model, [jets_batch(8, 20, seed=s) for s in range(3)], subspaces=4, centroids=8)
    assert sorted(books) == [0, 1, 2, 3] and books[0].shape == (8, 4, 8, 2)
    pq = PQAttentionConfig(keep=0.25, subspaces=4, centroids=8, keep_first=False, keep_diagonal=False)
    with torch.no_grad(), enable_sparse_attention(model, pq, codebooks=books) as h:
        out = model(**batch).logits
        assert torch.isfinite(out).all() and not torch.allclose(out, dense)
        assert 0.25 <= h.density() < 0.4  # ceil(0.25 · valid keys) per row; the class token reads every particle
