"""The jets generator (Pythia 8 + FastJet): selection, truth matching, subjets, seeding and resuming; the shipped
sample's provenance."""

import numpy as np
import pytest

from hyflexpim.data.jets import FEATURES, GENERATED_CLASSES, load_jets, sample_path


def test_shipped_sample_is_balanced_and_records_how_it_was_made():
    data = load_jets()
    counts = data.class_counts()
    assert list(counts) == GENERATED_CLASSES and len(set(counts.values())) == 1
    m = data.meta
    assert m["command"].startswith("hyflexpim jets generate") and m["generator"].startswith("pythia8mc")
    assert sample_path().stat().st_size < 6_000_000  # a few MB
    pt = data.jet[:, 0]
    assert (pt > 500).all() and (pt < 1000).all() and (np.abs(data.jet[:, 1]) < 2).all()
    # the constituents' four-momenta add up to the jet (all of them are kept up to 128)
    full = data.mask.sum(1) < 128
    sum_pt = np.hypot(data.vectors[full, :, 0].sum(1), data.vectors[full, :, 1].sum(1))
    np.testing.assert_allclose(sum_pt, pt[full], rtol=1e-3)
    # particles lie within the jet radius (in pseudorapidity, as JetClass measures it: a few soft massive hadrons,
    # whose pseudorapidity is far from their rapidity, lie beyond), and tops have three subjets, the bosons two
    dr = data.features[..., FEATURES.index("part_deltaR")][data.mask]
    assert np.quantile(dr, 0.97) < 0.8
    top = data.labels == GENERATED_CLASSES.index("Tbqq")
    assert data.subjet[top].max() == 2 and data.subjet[~top].max() == 1


def test_generation_is_seeded_and_resumes_to_the_same_jets(tmp_path):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from hyflexpim.data.jets_generate import generate

    a = load_jets(str(generate(tmp_path / "a", 4, seed=3, chunk=2, classes=["Wqq", "QCD"], show_progress=False)))
    assert a.class_counts() == {"QCD": 4, "Hbb": 0, "Tbqq": 0, "Wqq": 4, "Zqq": 0}
    assert a.meta["level"] == "detector" and a.has_impact_parameters()  # the detector stage is the default
    (tmp_path / "a" / "parts-detector" / "Wqq-0001.npz").unlink()  # an interrupted run: one chunk missing
    b = load_jets(str(generate(tmp_path / "a", 4, seed=3, chunk=2, classes=["Wqq", "QCD"], show_progress=False)))
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.features, b.features)  # the detector's random stream is seeded per chunk too
    p = load_jets(str(generate(tmp_path / "a", 2, seed=3, chunk=2, classes=["Wqq"], show_progress=False,
                               level="particle")))
    assert p.meta["level"] == "particle" and not p.has_impact_parameters() and (tmp_path / "a" / "parts").is_dir()
    c = load_jets(str(generate(tmp_path / "c", 4, seed=4, chunk=2, classes=["Wqq", "QCD"], show_progress=False)))
    assert not np.array_equal(a.jet, c.jet)
    assert (a.jet[:, 0] > 500).all() and (a.jet[:, 0] < 1000).all()


def test_bad_generator_settings_are_one_line(tmp_path):
    pytest.importorskip("pythia8mc")
    from hyflexpim.data.jets_generate import generate
    from hyflexpim.errors import UserError

    with pytest.raises(UserError, match="unknown jet class"):
        generate(tmp_path, 2, classes=["Higgs"], show_progress=False)
    with pytest.raises(UserError, match="at least 1"):
        generate(tmp_path, 0, show_progress=False)
    with pytest.raises(UserError, match="--level must be one of particle, detector"):
        generate(tmp_path, 2, show_progress=False, level="calorimeter")
