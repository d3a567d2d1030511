"""The parametric detector stage (hyflexpim.data.jets_detector) against the Delphes CMS card's definitions it takes
its parameters from: tracking efficiency and resolution rows, the log-normal smearing, calorimeter towers and the
particle-flow subtraction, thresholds, impact parameters of displaced tracks."""

import math

import numpy as np
import pytest

from hyflexpim.data.jets_detector import (
    ECAL_BINS,
    HCAL_BINS,
    detector_response,
    impact_parameters,
    ip_resolution,
    log_normal,
    momentum_resolution,
    tracking_efficiency,
)


def p4(pt, eta, phi, m=0.0):
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return [px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m)]


def test_tracking_efficiency_and_resolution_are_the_cards_rows():
    kind = np.array(["hadron"] * 5 + ["electron", "muon"])
    pt = np.array([0.05, 0.5, 5.0, 0.5, 5.0, 200.0, 5.0])
    eta = np.array([0.0, 1.0, 1.0, 2.0, -2.0, 0.3, 2.2])
    np.testing.assert_allclose(tracking_efficiency(kind, pt, eta), [0.0, 0.70, 0.95, 0.60, 0.85, 0.99, 0.98])
    res = momentum_resolution(np.array(["hadron", "hadron", "muon"]), np.array([10.0, 100.0, 50.0]),
                              np.array([0.2, 2.0, 1.0]))
    np.testing.assert_allclose(res, [math.sqrt(0.06 ** 2 + 100 * 1.3e-3 ** 2), math.sqrt(0.25 ** 2 + 1e4 * 3.1e-3 ** 2),
                                     math.sqrt(0.015 ** 2 + 2500 * 1.5e-4 ** 2)])


def test_log_normal_has_delphes_mean_and_sigma():
    x = log_normal(np.random.default_rng(0), np.full(200_000, 50.0), np.full(200_000, 10.0))
    assert x.min() > 0 and x.mean() == pytest.approx(50.0, rel=3e-3) and x.std() == pytest.approx(10.0, rel=1e-2)


def test_impact_parameters_of_straight_tracks_from_a_displaced_vertex():
    # a track along +x from (0, 1 mm, 2 mm): it passes the beam axis 1 mm away, d0 = (x·py − y·px)/pT = −1
    d0, dz = impact_parameters(np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 1.0]]),
                               np.array([[5.0, 0.0, 5.0], [4.0, 0.0, 4.0]]))
    np.testing.assert_allclose(d0, [-1.0, 0.0])
    np.testing.assert_allclose(dz, [2.0, 1.0 - 3.0])  # the second points away from the axis: z at closest approach
    s_d0, s_dz = ip_resolution(np.array([1.0, 200.0, 1.0]), np.array([0.1, 0.1, 2.0]))
    np.testing.assert_allclose(s_d0, [0.0753, 0.011, 0.1557])  # trackResolutionCMS.tcl rows
    np.testing.assert_allclose(s_dz, [0.1113, 0.0318, 0.6695])


def test_towers_are_the_cards_granularity():
    edges, nphi = ECAL_BINS
    inner = edges[np.abs(edges) < 1.4]
    assert np.allclose(np.diff(inner), 0.0174) and set(nphi[np.abs(edges) < 2.9]) == {360}
    edges, nphi = HCAL_BINS
    assert np.allclose(np.diff(edges[np.abs(edges) < 1.5]), 0.087)
    assert nphi[list(edges).index(0.087)] == 72 and nphi[list(edges).index(2.5)] == 36


def test_calorimeter_merges_neutrals_and_the_particle_flow_subtracts_tracks():
    rng = np.random.default_rng(1)
    # two 20 GeV photons in one ECAL tower, a 0.2 GeV photon (below EnergyMin), a 50 GeV charged pion, a 30 GeV
    # neutral hadron in another HCAL tower, a muon (no deposit)
    parts = [p4(20, 0.50, 0.100), p4(20, 0.503, 0.102), p4(0.2, -1.0, 2.0), p4(50, 0.3, -1.0, 0.14),
             p4(30, -0.6, 1.5, 0.94), p4(40, 1.0, -2.5, 0.106)]
    pdg = np.array([22, 22, 22, 211, 2112, 13])
    charge = np.array([0, 0, 0, 1, 0, -1])
    out = {k: [] for k in ("ptype", "n")}
    for _ in range(200):
        r = detector_response(np.array(parts), pdg, charge, np.zeros((6, 3)), rng)
        out["ptype"].append(sorted(r["ptype"].tolist()))
        photons = r["p4"][r["ptype"] == 2]
        out["n"].append(len(photons))
        if len(photons):
            assert photons[:, 3].max() > 25  # the two photons merged into one tower
    common = max(set(map(tuple, out["ptype"])), key=[tuple(x) for x in out["ptype"]].count)
    # one merged photon, one neutral hadron, the pion's and the muon's tracks (no neutral excess from the pion)
    assert common == (0, 1, 2, 4)
    # the 0.3 GeV photon tower passes EnergyMin and 2σ (σ = 0.66 GeV there) only in the log-normal's tail
    assert max(out["n"]) <= 2 and sum(n == 2 for n in out["n"]) < 10


def test_tracks_carry_smeared_impact_parameters_and_neutrals_none():
    rng = np.random.default_rng(2)
    parts = np.array([p4(10, 0.2, 0.3, 0.14)] * 2000)
    vertex = np.tile([[0.5 * math.sin(0.3), -0.5 * math.cos(0.3), 0.0]], (2000, 1))  # d0 = 0.5·(sin² + cos²) = 0.5
    r = detector_response(parts, np.full(2000, 211), np.ones(2000), vertex, rng)
    tracks = r["ptype"] == 0
    assert tracks.mean() > 0.5 and 0.93 < tracks.sum() / 2000 < 0.97  # 95 % efficiency
    d0, err = r["ip"][tracks, 0], r["ip"][tracks, 1]
    assert d0.mean() == pytest.approx(0.5, abs=0.003) and d0.std() == pytest.approx(err[0], rel=0.1)
    assert not r["ip"][~tracks].any()
    pt = np.hypot(r["p4"][tracks, 0], r["p4"][tracks, 1])
    assert pt.std() / 10 == pytest.approx(math.sqrt(0.06 ** 2 + 100 * 1.3e-3 ** 2), rel=0.1)


def test_tracks_take_the_calorimeters_energy_without_a_neutral_excess():
    """JetClass's card: track resolution 0 in the particle flow, so a tower without a significant neutral excess
    hands its measured energy to its tracks (Delphes' bestEnergyEstimate), and a tower below threshold drops them."""
    pion = np.array([p4(50, 0.3, -1.0, 0.14)])
    ratios, kept, neutral = [], 0, 0
    for seed in range(400):
        r = detector_response(pion, np.array([211]), np.ones(1), np.zeros((1, 3)), np.random.default_rng(seed))
        tracks = r["ptype"] == 0
        kept += tracks.sum()
        neutral += (r["ptype"] == 1).sum()
        if tracks.any() and not (r["ptype"] == 1).any():
            ratios.append(np.hypot(*r["p4"][tracks][0, :2]) / 50)
    # 95 % tracked; the HCAL resolution at 50 GeV is 21 %, the track's 6.5 %: the rescaled tracks spread like the
    # calorimeter (below the neutral-excess cut, which keeps one in six towers' tracks as they are)
    assert 0.92 < kept / 400 < 0.98 and 0.08 < neutral / 400 < 0.25
    assert np.std(ratios) > 0.12 and np.mean(ratios) < 1.0
    # a 0.8 GeV pion alone: its HCAL tower passes the 1 GeV threshold only in the tail, so its track is mostly dropped
    soft = np.array([p4(0.8, 0.3, -1.0, 0.14)])
    n = sum((detector_response(soft, np.array([211]), np.ones(1), np.zeros((1, 3)),
                               np.random.default_rng(s))["ptype"] == 0).sum() for s in range(300))
    assert n < 0.35 * 300


def test_with_the_momentum_resolution_the_tracks_keep_most_of_their_own_measurement():
    """Delphes' own CMS card (no TrackSmearing): the tracks weigh in with the momentum smearing's resolution."""
    pion = np.array([p4(50, 0.3, -1.0, 0.14)])
    ratios = []
    for seed in range(400):
        r = detector_response(pion, np.array([211]), np.ones(1), np.zeros((1, 3)), np.random.default_rng(seed),
                              track_resolution_in_calo=None)
        tracks = r["ptype"] == 0
        if tracks.any() and not (r["ptype"] == 1).any():
            ratios.append(np.hypot(*r["p4"][tracks][0, :2]) / 50)
    assert 0.06 < np.std(ratios) < 0.11  # between the track's 6.5 % and the calorimeter's 21 %
