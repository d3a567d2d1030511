"""JetClass compatibility (issue 32): the signed Δη and weaver's standardization and clipping exactly as ParT's
JetClass configurations define them, the three feature sets, the class map between the generated classes and
JetClass's ten labels, a weaver-layout ParT state dict, and a `kin` model trained on generated jets run through a
JetClass-layout ROOT file written here."""

import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("weaver")

from hyflexpim.data.jets import (
    FEATURE_SETS,
    FEATURES,
    JETCLASS_LABELS,
    JetData,
    features_from_particles,
    load_jets,
    subset,
)
from hyflexpim.data.jets_classes import to_model_classes
from hyflexpim.models.part import FEATURE_SETS as MODEL_FEATURE_SETS
from hyflexpim.models.part import build_part, load_part, save_part

# ParT's JetClass_full.yaml `pf_features`, as [name, subtract_by, multiply_by, clip_min, clip_max] with weaver's
# defaults filled in (clip -5, 5; `null` = no transformation and no clipping) — copied from the yaml by hand
YAML_FULL = [["part_pt_log", 1.7, 0.7, -5, 5], ["part_e_log", 2.0, 0.7, -5, 5], ["part_logptrel", -4.7, 0.7, -5, 5],
             ["part_logerel", -4.7, 0.7, -5, 5], ["part_deltaR", 0.2, 4.0, -5, 5], ["part_charge"],
             ["part_isChargedHadron"], ["part_isNeutralHadron"], ["part_isPhoton"], ["part_isElectron"],
             ["part_isMuon"], ["part_d0"], ["part_d0err", 0, 1, 0, 1], ["part_dz"], ["part_dzerr", 0, 1, 0, 1],
             ["part_deta"], ["part_dphi"]]
YAML_KIN = ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_deta", "part_dphi"]
YAML_KINPID = [*YAML_KIN[:5], "part_charge", "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton",
               "part_isElectron", "part_isMuon", *YAML_KIN[5:]]


def four(pt, eta, phi):
    return [pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), pt * math.cosh(eta)]


def test_the_feature_sets_are_the_yamls_in_order_in_data_and_model():
    assert FEATURE_SETS["full"] == [v[0] for v in YAML_FULL] == FEATURES
    assert FEATURE_SETS["kin"] == YAML_KIN and FEATURE_SETS["kinpid"] == YAML_KINPID
    assert MODEL_FEATURE_SETS == FEATURE_SETS


def test_delta_eta_is_signed_by_the_jet_eta_as_in_jetclass():
    """A jet at η = −1.2 and its mirror at +1.2: the same Δη inputs (dataloader.py: np.where(jet_eta > 0, Δ, −Δ))."""
    parts = [(300.0, 0.15, 0.1), (100.0, -0.25, -0.2)]
    for sign in (1, -1):
        v = np.array([[four(pt, sign * (1.2 + d), phi) for pt, d, phi in parts]], np.float32)
        t = v[0].astype(np.float64).sum(0)
        jpt = math.hypot(t[0], t[1])
        jet = np.array([[jpt, math.asinh(t[2] / jpt), math.atan2(t[1], t[0]), t[3]]])
        f = features_from_particles(v, np.ones((1, 2), bool), jet, np.zeros((1, 2)), np.full((1, 2), 2))
        deta = f[0, :, FEATURES.index("part_deta")]
        eta = np.arcsinh(v[0, :, 2] / np.hypot(v[0, :, 0], v[0, :, 1]))
        np.testing.assert_allclose(deta, np.sign(jet[0, 1]) * (eta - jet[0, 1]), atol=1e-5)
        if sign == 1:
            first = deta
        else:
            np.testing.assert_allclose(deta, first, atol=1e-5)  # mirrored jets, the same inputs


def test_normalized_is_weavers_standardization_and_clipping():
    rng = np.random.default_rng(0)
    n, p = 6, 9
    mask = np.arange(p)[None] < rng.integers(1, p + 1, n)[:, None]
    f = (rng.normal(size=(n, p, 17)) * 8).astype(np.float32)  # far beyond ±5 after scaling
    f[0, 0, FEATURES.index("part_pt_log")] = math.log(1e-13)  # a 1e-13 GeV constituent: clipped to −5
    f[1, 0, FEATURES.index("part_d0err")] = np.nan
    data = JetData(features=f, vectors=np.ones((n, p, 4), np.float32), mask=mask, labels=np.zeros(n, np.int64),
                   class_names=["QCD"], subjet=np.full((n, p), -1, np.int8), jet=np.ones((n, 4), np.float32))
    got = data.normalized()
    for i, var in enumerate(YAML_FULL):
        x = f[..., i]
        if len(var) == 5:  # weaver: (x − center) · scale, clipped to [min, max]
            want = np.clip((x - var[1]) * var[2], var[3], var[4])
        else:
            want = np.tanh(x) if var[0] in ("part_d0", "part_dz") else x  # the yaml's new_variables: tanh(d0val)
        want = np.where(mask, np.nan_to_num(want, nan=0.0), 0.0)
        np.testing.assert_allclose(got[..., i], want, rtol=1e-6, atol=1e-6, err_msg=var[0])
    assert got[0, 0, FEATURES.index("part_pt_log")] == -5.0 and np.abs(got[..., :5]).max() <= 5.0


def test_a_kin_model_reads_only_the_kinematic_columns():
    model = build_part("small", 5, features="kin").eval()
    assert model.part.embed.input_bn.num_features == 7
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 10, 17, generator=g)
    v = torch.rand(2, 10, 4, generator=g) * 50 + 1
    v[..., 3] += v[..., :3].norm(dim=-1)
    mask = torch.ones(2, 10, dtype=torch.bool)
    ref = model(f, v, mask).logits
    other = f.clone()
    other[..., 5:15] = torch.randn(2, 10, 10, generator=g)  # charge, particle ID, impact parameters
    torch.testing.assert_close(model(other, v, mask).logits, ref, atol=0, rtol=0)
    torch.testing.assert_close(model(f[..., [FEATURES.index(n) for n in YAML_KIN]], v, mask).logits, ref)


def _jetclass_like(labels, class_names=None):
    rng = np.random.default_rng(2)
    n, p = len(labels), 6
    return JetData(features=rng.normal(size=(n, p, 17)).astype(np.float32), vectors=np.ones((n, p, 4), np.float32),
                   mask=np.ones((n, p), bool), labels=np.array(labels), subjet=np.full((n, p), -1, np.int8),
                   class_names=class_names or [c.removeprefix("label_") for c in JETCLASS_LABELS],
                   jet=np.ones((n, 4), np.float32))


def test_class_map_both_ways_names_what_it_leaves_out():
    said = []
    # JetClass labels 0 QCD, 2 Hcc, 8 Tbqq, 9 Tbl, 7 Wqq onto the five generated classes
    data = to_model_classes(_jetclass_like([0, 2, 8, 9, 9, 7]), ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"], said.append)
    assert data.labels.tolist() == [0, 2, 3] and data.class_names == ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"]
    assert re.search(r"3 jets .* left out: Hcc \(1\), Tbl \(2\)", said[0])
    assert "Hbb, Zqq have no jets" in said[1]
    # generated jets onto JetClass's ten outputs: nothing left out, the five JetClass-only classes named
    said.clear()
    gen = _jetclass_like([0, 1, 2, 3, 4], ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"])
    ten = [c.removeprefix("label_") for c in JETCLASS_LABELS]
    data = to_model_classes(gen, ten, said.append)
    assert [ten[i] for i in data.labels] == ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"] and len(data) == 5
    assert len(said) == 1 and "Hcc, Hgg, H4q, Hqql, Tbl have no jets" in said[0]
    from hyflexpim.errors import UserError

    with pytest.raises(UserError, match="none of these jets' classes"):
        to_model_classes(_jetclass_like([2, 3]), ["QCD", "Hbb"], said.append)


def _weaver_wrapper(input_dim, num_classes):
    """The ParT repository's networks/example_ParticleTransformer.py: ParticleTransformerWrapper(get_model's cfg)."""
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    class ParticleTransformerWrapper(torch.nn.Module):
        def __init__(self, **kwargs):
            super().__init__()
            self.mod = ParticleTransformer(**kwargs)

        def forward(self, points, features, lorentz_vectors, mask):
            return self.mod(features, v=lorentz_vectors, mask=mask)

    cfg = dict(input_dim=input_dim, num_classes=num_classes, pair_input_dim=4, use_pre_activation_pair=False,
               embed_dims=[128, 512, 128], pair_embed_dims=[64, 64, 64], num_heads=8, num_layers=8,
               num_cls_layers=2, block_params=None,
               cls_block_params={'dropout': 0, 'attn_dropout': 0, 'activation_dropout': 0}, fc_params=[],
               activation='gelu', trim=True, for_inference=False)
    torch.manual_seed(7)
    return ParticleTransformerWrapper(**cfg)


@pytest.mark.parametrize("features", ["kin", "kinpid", "full"])
def test_a_weaver_layout_state_dict_of_the_published_network_loads_and_gives_its_logits(tmp_path, features):
    cols = [FEATURES.index(n) for n in FEATURE_SETS[features]]
    ref = _weaver_wrapper(len(cols), 10).eval()
    for m in ref.modules():  # random BatchNorm statistics, so that running stats are part of what must load
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    torch.save(ref.state_dict(), tmp_path / f"ParT_{features}.pt")
    model = load_part(tmp_path / f"ParT_{features}.pt").eval()
    assert model.config.name == "paper" and model.config.features == features and model.config.num_labels == 10
    data = load_jets()
    idx = np.arange(0, 3000, 150)
    from hyflexpim.data import jet_batches

    b = next(iter(jet_batches(data, idx, len(idx))))
    with torch.no_grad():
        want = ref(None, b["features"][..., cols].transpose(1, 2), b["vectors"].transpose(1, 2),
                   b["mask"].unsqueeze(1).float())
        got = model(b["features"], b["vectors"], b["mask"]).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_a_kin_model_trained_on_generated_jets_runs_on_a_jetclass_root_file(tmp_path):
    pytest.importorskip("uproot")
    from hyflexpim.data.jetclass_root import write_jetclass
    from hyflexpim.pipeline.jets_train import JetTrainConfig, predict, train_part

    sample = load_jets()
    model, _ = train_part(sample, JetTrainConfig(features="kin", epochs=0.2), progress=False, say=lambda *a: None)
    save_part(model, tmp_path / "kin.pt")
    # 60 generated test jets as a JetClass file; 10 of them labelled Hcc, a class the model does not have
    jets = subset(sample, sample.split_indices("test")[:60])
    names = [f"label_{jets.class_names[c]}" for c in jets.labels]
    names[:10] = ["label_Hcc"] * 10
    write_jetclass(jets, tmp_path / "JetClass_like.root", names)
    import uproot

    with uproot.open(tmp_path / "JetClass_like.root") as f:  # JetClass's branches, its signed Δη among them
        tree = f["tree"]
        assert {"part_deta", "part_d0val", "label_Hcc", "jet_energy"} <= set(tree.keys())
        deta = tree["part_deta"].array(library="np")
    np.testing.assert_allclose(deta[12], jets.features[12, :jets.mask[12].sum(), FEATURES.index("part_deta")])
    said = []
    back = to_model_classes(load_jets(str(tmp_path / "JetClass_like.root")), model.config.class_names, said.append)
    assert len(back) == 50 and "10 jets" in said[0] and "Hcc (10)" in said[0]
    assert [back.class_names[c] for c in back.labels] == [jets.class_names[c] for c in jets.labels[10:]]
    s_root, _ = predict(model, back, index=np.arange(50))
    s_npz, _ = predict(model, jets, index=np.arange(10, 60))
    np.testing.assert_allclose(s_root, s_npz, atol=2e-4)  # the same jets, the same scores, through ROOT
    # and the command: the class map's line, the accuracy on the jets it kept
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "jets", "analyze", "--model",
                        str(tmp_path / "kin.pt"), "--data", str(tmp_path / "JetClass_like.root"), "--out",
                        str(tmp_path / "a"), "--jets", "20", "-q"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Hcc (10)" in r.stdout and (tmp_path / "a" / "jets_attention.json").is_file()
