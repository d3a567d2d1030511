"""A parametric detector stage for generated jets: Pythia's final-state particles → particle-flow objects of a
CMS-like detector (tracks, calorimeter photons, calorimeter neutral hadrons), as JetClass's Delphes simulation
makes them. Off (``level="particle"``) for generator-level jets.

Every parameter is Delphes' (github.com/delphes/delphes at 0ee14ba, ``cards/delphes_card_CMS.tcl`` — the card
JetClass's description names — and ``cards/trackResolutionCMS.tcl`` for the impact parameters):

- **tracking** (card modules ``ChargedHadronTrackingEfficiency``, ``ElectronTrackingEfficiency``,
  ``MuonTrackingEfficiency``): charged particles with |η| ≤ 2.5 and pT > 0.1 GeV are tracked with the card's
  efficiency (``EFFICIENCY``); a charged particle that is not tracked still deposits its energy in the calorimeters.
- **momentum resolution** (``*MomentumSmearing``): pT log-normally smeared with the card's relative resolution
  (``MOMENTUM_RESOLUTION``), direction kept.
- **calorimeters** (``ECal``, ``HCal``, module ``SimpleCalorimeter``): electrons and photons deposit in the ECAL,
  hadrons in the HCAL, muons in neither (the card's ``EnergyFraction``s); deposits summed in towers of the card's
  η–φ granularity (ECAL 0.0174 × 1°, HCAL 0.087 × 5° in the barrel and 10° in the endcaps), tower energies
  log-normally smeared with the card's resolution, a tower kept above ``EnergyMin`` and ``EnergySignificanceMin``
  σ; then the particle flow of ``SimpleCalorimeter``: the energy of the tracks in a tower is subtracted, and an
  excess above the same thresholds becomes a neutral object (ECAL: photon, HCAL: neutral hadron), massless, at a
  point drawn uniformly inside the tower (``SmearTowerCenter``).
- **impact parameters**: d0 and dz of every track from its Pythia production vertex (straight line to the point of
  closest approach to the beam axis, Delphes' ``ParticlePropagator`` formulas d0 = (x·py − y·px)/pT, without the
  curvature: a displaced vertex is millimetres from the beam, where a track of pT > 0.1 GeV in 3.8 T bends by
  less than a micrometre per millimetre), Gaussian-smeared with the resolution table of
  ``trackResolutionCMS.tcl`` (from CMS, arXiv:1405.6569 fig. 15), which is also the error d0err, dzerr; in mm.

- **recombination** (``SimpleCalorimeter::FinalizeTower``): in a tower without a significant neutral excess the
  tracks are rescaled to Delphes' ``bestEnergyEstimate``, the resolution-weighted mean of the tracks' and the
  tower's energy. JetClass's own card (``jet-universe/jetclass_generation``, ``delphes_card.tcl``) sets the track
  resolution this uses to 0 (its ``TrackSmearing`` module, ``PResolutionFormula { 0.0 }``), so there the tracks
  take the tower's measured energy, and the tracks of a tower below threshold are dropped
  (``TRACK_RESOLUTION_IN_CALO``; ``None`` weighs them with the momentum smearing's resolution instead).

Simplifications against Delphes (documented in docs/jets.md): no propagation in the magnetic field (deposits at the
particle's own η, φ; Delphes bends charged particles before the calorimeter), no forward calorimeter
beyond |η| = 3 (jets have |η| < 2, R = 0.8), no pile-up (JetClass has none), K0S and Λ decayed by Pythia.
"""

from __future__ import annotations

import math

import numpy as np

LEVELS = ("particle", "detector")
CARD = ("Delphes 0ee14ba cards/delphes_card_CMS.tcl + cards/trackResolutionCMS.tcl; track resolution 0 in the "
        "particle flow as jet-universe/jetclass_generation delphes_card.tcl")
TRACKER_ETA = 2.5
CALO_ETA = 3.0

# (|η| upper edge, pT lower edge) → efficiency, per kind: the card's EfficiencyFormula, row by row
EFFICIENCY = {
    "hadron": [(1.5, [(0.1, 0.70), (1.0, 0.95)]), (2.5, [(0.1, 0.60), (1.0, 0.85)])],
    "electron": [(1.5, [(0.1, 0.73), (1.0, 0.95), (100.0, 0.99)]), (2.5, [(0.1, 0.50), (1.0, 0.83), (100.0, 0.90)])],
    "muon": [(1.5, [(0.1, 0.75), (1.0, 0.99)]), (2.5, [(0.1, 0.70), (1.0, 0.98)])],
}
# relative pT resolution sqrt(a² + pT²·b²) per |η| region (upper edges 0.5, 1.5, 2.5): the card's ResolutionFormula
MOMENTUM_RESOLUTION = {
    "hadron": [(0.5, 0.06, 1.3e-3), (1.5, 0.10, 1.7e-3), (2.5, 0.25, 3.1e-3)],
    "electron": [(0.5, 0.03, 1.3e-3), (1.5, 0.05, 1.7e-3), (2.5, 0.15, 3.1e-3)],
    "muon": [(0.5, 0.01, 1.0e-4), (1.5, 0.015, 1.5e-4), (2.5, 0.025, 3.5e-4)],
}
# the relative track resolution the calorimeters' particle flow weighs tracks with (Delphes' TrackResolution):
# JetClass's card (github.com/jet-universe/jetclass_generation, delphes_card.tcl) runs a TrackSmearing module with
# PResolutionFormula { 0.0 } after the momentum smearing, and TrackSmearing.cc sets TrackResolution = pError / p = 0,
# so in a tower without a significant neutral excess the tracks take the calorimeter's measured energy
TRACK_RESOLUTION_IN_CALO = 0.0
# calorimeter thresholds: (EnergyMin GeV, EnergySignificanceMin)
ECAL_THRESHOLDS = (0.5, 2.0)
HCAL_THRESHOLDS = (1.0, 1.0)

# trackResolutionCMS.tcl: d0 and dz resolution (mm) by pT bin (lower edges, GeV) and |η| region (≤ 0.9, 1.4, 2.5)
IP_PT_EDGES = [0.1823, 0.2227, 0.272, 0.3323, 0.406, 0.4959, 0.6058, 0.7401, 0.9041, 1.1044, 1.3492, 1.6481, 2.0134,
               2.4595, 3.0045, 3.6703, 4.4837, 5.4772, 6.691, 8.1737, 9.9849, 12.1976, 14.9005, 18.2024, 22.236,
               27.1635, 33.1828, 40.536, 49.5187, 60.4919, 73.8967, 90.272, 110.276, 134.713]
IP_ETA_EDGES = [0.9, 1.4, 2.5]
D0_RESOLUTION = [
    [0.3543, 0.2809, 0.2304, 0.1917, 0.1737, 0.1434, 0.106, 0.0893, 0.0753, 0.067, 0.0577, 0.0524, 0.0452, 0.0376,
     0.035, 0.0324, 0.0283, 0.0258, 0.0237, 0.0211, 0.0191, 0.0164, 0.015, 0.0143, 0.013, 0.013, 0.0116, 0.0116,
     0.011, 0.011, 0.011, 0.0104, 0.0109, 0.011],
    [0.4564, 0.358, 0.301, 0.2353, 0.2026, 0.1595, 0.1383, 0.1119, 0.0926, 0.0816, 0.0663, 0.0553, 0.0488, 0.0431,
     0.0399, 0.0357, 0.0313, 0.0277, 0.0233, 0.0221, 0.0214, 0.018, 0.0155, 0.0141, 0.0128, 0.0134, 0.0121, 0.0108,
     0.0101, 0.0101, 0.0101, 0.0102, 0.0088, 0.0095],
    [0.697, 0.6046, 0.5315, 0.4306, 0.3398, 0.2788, 0.2387, 0.1814, 0.1557, 0.123, 0.1009, 0.0914, 0.0767, 0.0638,
     0.0544, 0.0468, 0.0425, 0.0385, 0.0331, 0.0278, 0.0256, 0.0236, 0.0217, 0.0196, 0.0176, 0.0165, 0.0157, 0.015,
     0.0144, 0.0144, 0.0137, 0.013, 0.0137, 0.0137],
]
DZ_RESOLUTION = [
    [0.3693, 0.3135, 0.3125, 0.2578, 0.2221, 0.1936, 0.1686, 0.1351, 0.1113, 0.0983, 0.0882, 0.0786, 0.0684, 0.0615,
     0.0551, 0.0516, 0.0484, 0.045, 0.0416, 0.0416, 0.0382, 0.035, 0.0317, 0.0316, 0.0316, 0.0316, 0.0348, 0.0316,
     0.0316, 0.0316, 0.0284, 0.0283, 0.0315, 0.0318],
    [0.7062, 0.601, 0.5992, 0.4959, 0.3877, 0.3199, 0.2649, 0.2518, 0.1982, 0.1587, 0.1399, 0.1199, 0.1031, 0.0967,
     0.0805, 0.0736, 0.0707, 0.0603, 0.0609, 0.0541, 0.0511, 0.0443, 0.0409, 0.0408, 0.0409, 0.0377, 0.0375, 0.0377,
     0.0342, 0.0342, 0.0343, 0.0343, 0.0309, 0.031],
    [2.1717, 2.0715, 2.0679, 1.7679, 1.4393, 1.1997, 0.98, 0.8251, 0.6695, 0.5545, 0.4366, 0.3711, 0.3319, 0.2721,
     0.2443, 0.2085, 0.1816, 0.1641, 0.1451, 0.1317, 0.1117, 0.102, 0.1017, 0.0983, 0.0882, 0.0847, 0.0814, 0.0784,
     0.0817, 0.075, 0.0816, 0.082, 0.0814, 0.085],
]


def _ecal_bins() -> tuple[np.ndarray, np.ndarray]:
    """η edges and the φ divisions of the bin each edge closes (the card's loops; |η| < 3 only)."""
    edges = {round(i * 0.0174, 6): 360 for i in range(-85, 87)}
    edges |= {round(-2.958 + i * 0.0174, 6): 360 for i in range(1, 85)}
    edges |= {round(1.4964 + i * 0.0174, 6): 360 for i in range(1, 85)}
    edges[-2.958] = 360  # the lower edge of the first endcap bin (the card's HF list starts its own bins there)
    eta = np.array(sorted(edges))
    return eta, np.array([edges[e] for e in eta])


def _hcal_bins() -> tuple[np.ndarray, np.ndarray]:
    barrel = [-1.566, -1.479, -1.392, -1.305, -1.218, -1.131, -1.044, -0.957, -0.87, -0.783, -0.696, -0.609, -0.522,
              -0.435, -0.348, -0.261, -0.174, -0.087, 0, 0.087, 0.174, 0.261, 0.348, 0.435, 0.522, 0.609, 0.696, 0.783,
              0.87, 0.957, 1.044, 1.131, 1.218, 1.305, 1.392, 1.479, 1.566, 1.653]
    endcap = [-3.125, -2.95, -2.868, -2.65, -2.5, -2.322, -2.172, -2.043, -1.93, -1.83, -1.74, -1.653, 1.74, 1.83,
              1.93, 2.043, 2.172, 2.322, 2.5, 2.65, 2.868, 2.95, 3.125]
    edges = dict.fromkeys(barrel, 72) | dict.fromkeys(endcap, 36)
    eta = np.array(sorted(edges))
    return eta, np.array([edges[e] for e in eta])


ECAL_BINS = _ecal_bins()
HCAL_BINS = _hcal_bins()


def ecal_sigma(e: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The card's ECal ResolutionFormula (GeV), |η| ≤ 3."""
    a = np.abs(eta)
    base = np.sqrt(e ** 2 * 0.008 ** 2 + e * 0.11 ** 2 + 0.40 ** 2)
    return np.where(a <= 1.5, (1 + 0.64 * eta ** 2) * base,
                    np.where(a <= 2.5, (2.16 + 5.6 * (a - 2) ** 2) * base,
                             np.sqrt(e ** 2 * 0.107 ** 2 + e * 2.08 ** 2)))


def hcal_sigma(e: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The card's HCal ResolutionFormula (GeV), |η| ≤ 3."""
    return np.sqrt(e ** 2 * 0.050 ** 2 + e * 1.50 ** 2)


def log_normal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Delphes' LogNormal(mean, sigma): a log-normal variate with that mean and standard deviation; 0 for mean ≤ 0."""
    mean = np.asarray(mean, np.float64)
    ok = mean > 0
    m = np.where(ok, mean, 1.0)
    b = np.sqrt(np.log1p((np.asarray(sigma) / m) ** 2))
    a = np.log(m) - 0.5 * b ** 2
    return np.where(ok, np.exp(a + b * rng.standard_normal(mean.shape)), 0.0)


def _kind(pdg: np.ndarray) -> np.ndarray:
    a = np.abs(pdg)
    return np.where(a == 11, "electron", np.where(a == 13, "muon", "hadron"))


def tracking_efficiency(kind: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    out = np.zeros(len(pt))
    a = np.abs(eta)
    for k, regions in EFFICIENCY.items():
        lo_eta = 0.0
        for hi_eta, steps in regions:
            sel = (kind == k) & (a > lo_eta if lo_eta else a >= 0) & (a <= hi_eta)
            for lo_pt, eff in steps:
                out = np.where(sel & (pt > lo_pt), eff, out)
            lo_eta = hi_eta
    return out


def momentum_resolution(kind: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    out = np.zeros(len(pt))
    a = np.abs(eta)
    for k, regions in MOMENTUM_RESOLUTION.items():
        lo = -1.0
        for hi, c, s in regions:
            out = np.where((kind == k) & (a > lo) & (a <= hi), np.sqrt(c ** 2 + pt ** 2 * s ** 2), out)
            lo = hi
    return out


def ip_resolution(pt: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(σ_d0, σ_dz) in mm from trackResolutionCMS.tcl (the first pT bin below 0.1823 GeV, the last above)."""
    i = np.clip(np.searchsorted(IP_PT_EDGES, pt, side="right") - 1, 0, len(IP_PT_EDGES) - 1)
    r = np.clip(np.searchsorted(IP_ETA_EDGES, np.abs(eta), side="left"), 0, len(IP_ETA_EDGES) - 1)
    return np.asarray(D0_RESOLUTION)[r, i], np.asarray(DZ_RESOLUTION)[r, i]


def impact_parameters(vertex: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True d0 and dz (mm) of straight tracks from production vertices [n, 3] (mm) with momenta [n, 3]."""
    x, y, z = vertex.T
    px, py, pz = p.T
    pt2 = np.maximum(px ** 2 + py ** 2, 1e-12)
    d0 = (x * py - y * px) / np.sqrt(pt2)
    dz = z - (x * px + y * py) * pz / pt2
    return d0, dz


def _towers(eta: np.ndarray, phi: np.ndarray, bins) -> tuple[np.ndarray, np.ndarray]:
    """(tower id, valid) of each deposit: the η bin (edges[i-1], edges[i]] and its φ division."""
    edges, nphi = bins
    i = np.searchsorted(edges, eta, side="left")
    valid = (i > 0) & (i < len(edges))
    i = np.clip(i, 1, len(edges) - 1)
    n = nphi[i]
    j = np.minimum(((phi + math.pi) / (2 * math.pi) * n).astype(np.int64), n - 1)
    return i * 1000 + j, valid


def _tower_bounds(tower: np.ndarray, bins):
    edges, nphi = bins
    i, j = tower // 1000, tower % 1000
    n = nphi[i]
    return edges[i - 1], edges[i], -math.pi + 2 * math.pi * j / n, -math.pi + 2 * math.pi * (j + 1) / n


def _calorimeter(rng, e, eta, phi, track_e, track_sigma, bins, sigma_fn, thresholds, ptype: int):
    """One calorimeter's particle flow (``SimpleCalorimeter::FinalizeTower``). ``e`` are the deposits, ``track_e`` and
    ``track_sigma`` the energies (and their resolutions) of the tracked particles among them (0 elsewhere).

    Returns the neutral objects (E, η, φ) [k, 3], their ptype, and per deposit the factor its track's momentum is
    scaled by: 1 in a tower with a significant neutral excess (the tracks are kept as they are); otherwise the
    tracks take Delphes' best estimate of the charged energy, the resolution-weighted mean of the tracks' and the
    tower's energies, so a tower below threshold (measured 0) scales its tracks to 0 (dropped)."""
    tower, valid = _towers(eta, phi, bins)
    scale = np.ones(len(e))
    idx = np.flatnonzero(valid)
    tower, e, track_e, track_sigma = tower[valid], e[valid], track_e[valid], track_sigma[valid]
    if not len(tower):
        return np.zeros((0, 3)), np.zeros(0, np.int8), scale
    ids, inv = np.unique(tower, return_inverse=True)
    energy = np.bincount(inv, e)
    trk = np.bincount(inv, track_e)
    trk_sigma = np.sqrt(np.bincount(inv, track_sigma ** 2))
    lo_eta, hi_eta, lo_phi, hi_phi = _tower_bounds(ids, bins)
    centre = 0.5 * (lo_eta + hi_eta)
    measured = log_normal(rng, energy, sigma_fn(energy, centre))
    sigma = sigma_fn(measured, centre)  # Delphes evaluates the resolution again at the measured energy
    e_min, significance = thresholds
    measured = np.where((measured < e_min) | (measured < significance * sigma), 0.0, measured)
    neutral = np.maximum(measured - trk, 0.0)
    neutral_sig = neutral / np.sqrt(trk_sigma ** 2 + sigma ** 2)
    keep = (neutral > e_min) & (neutral_sig > significance)
    # no significant excess: the tracks are rescaled to (w_trk·E_trk + w_calo·E_calo) / (w_trk + w_calo)
    w_trk = np.where(trk_sigma > 0, 1.0 / np.maximum(trk_sigma, 1e-30) ** 2, 0.0)
    w_calo = np.where(sigma > 0, 1.0 / np.maximum(sigma, 1e-30) ** 2, 0.0)
    best = (w_trk * trk + w_calo * measured) / np.maximum(w_trk + w_calo, 1e-300)
    tower_scale = np.where(~keep & (trk > 0), best / np.maximum(trk, 1e-300), 1.0)
    scale[idx] = np.where(track_e > 0, tower_scale[inv], 1.0)
    n = int(keep.sum())
    t_eta = rng.uniform(lo_eta[keep], hi_eta[keep]) if n else np.zeros(0)
    t_phi = rng.uniform(lo_phi[keep], hi_phi[keep]) if n else np.zeros(0)
    return np.stack([neutral[keep], t_eta, t_phi], 1), np.full(n, ptype, np.int8), scale


def detector_response(p4: np.ndarray, pdg: np.ndarray, charge: np.ndarray, vertex: np.ndarray,
                      rng: np.random.Generator, track_resolution_in_calo: float | None = TRACK_RESOLUTION_IN_CALO
                      ) -> dict:
    """Particle-flow objects from final-state particles: ``p4`` [n, 4] (px, py, pz, E in GeV), PDG ids, charges,
    production vertices [n, 3] (mm). Returns arrays ``p4`` [m, 4], ``charge``, ``ptype`` (PARTICLE_TYPES index),
    ``ip`` [m, 4] (d0, d0err, dz, dzerr in mm; 0 for neutral objects) and ``source`` (index of the particle a
    track came from, -1 for calorimeter objects).

    ``track_resolution_in_calo``: the relative track resolution the calorimeters weigh the tracks with when they
    combine them with a tower that has no significant neutral excess (Delphes' ``TrackResolution``): JetClass's card
    sets it to 0 (``TRACK_RESOLUTION_IN_CALO``: the tracks take the calorimeter's energy); ``None`` uses the
    momentum smearing's resolution, as Delphes' own CMS card (no ``TrackSmearing`` module) does."""
    p4 = np.asarray(p4, np.float64)
    px, py, pz, e = p4.T
    pt = np.hypot(px, py)
    safe = np.maximum(pt, 1e-12)
    eta = np.arcsinh(pz / safe)
    phi = np.arctan2(py, px)
    kind = _kind(pdg)
    charged = charge != 0
    in_tracker = charged & (np.abs(eta) <= TRACKER_ETA) & (pt > 0.1)
    tracked = in_tracker & (rng.random(len(pt)) < tracking_efficiency(kind, pt, eta))
    rel = momentum_resolution(kind, pt, eta)
    new_pt = np.where(tracked, log_normal(rng, np.where(tracked, pt, 0.0), rel * pt), pt)
    scale = np.where(tracked, new_pt / safe, 1.0)
    p3 = p4[:, :3] * scale[:, None]
    m2 = np.maximum(e ** 2 - (p4[:, :3] ** 2).sum(1), 0.0)
    track_e = np.where(tracked, np.sqrt((p3 ** 2).sum(1) + m2), 0.0)
    d0, dz = impact_parameters(np.asarray(vertex, np.float64), p3)
    s_d0, s_dz = ip_resolution(new_pt, eta)
    d0 = d0 + s_d0 * rng.standard_normal(len(pt))
    dz = dz + s_dz * rng.standard_normal(len(pt))
    # calorimeter deposits: e and γ in the ECAL, hadrons in the HCAL, muons nowhere (neutrinos are not visible)
    a = np.abs(pdg)
    in_calo = (a != 13) & (np.abs(eta) < CALO_ETA)
    to_ecal = in_calo & ((a == 11) | (a == 22))
    to_hcal = in_calo & ~((a == 11) | (a == 22))
    track_sigma = (rel if track_resolution_in_calo is None else track_resolution_in_calo) * track_e
    ecal, ecal_t, ecal_scale = _calorimeter(rng, e[to_ecal], eta[to_ecal], phi[to_ecal], track_e[to_ecal],
                                            track_sigma[to_ecal], ECAL_BINS, ecal_sigma, ECAL_THRESHOLDS, 2)
    hcal, hcal_t, hcal_scale = _calorimeter(rng, e[to_hcal], eta[to_hcal], phi[to_hcal], track_e[to_hcal],
                                            track_sigma[to_hcal], HCAL_BINS, hcal_sigma, HCAL_THRESHOLDS, 1)
    # the particle flow's recombination: a track in a tower without a significant neutral excess is rescaled (pT
    # scaled, direction and mass kept: Delphes' SetPtEtaPhiM); one rescaled to pT 0 is no object
    calo_scale = np.ones(len(pt))
    calo_scale[to_ecal], calo_scale[to_hcal] = ecal_scale, hcal_scale
    p3 = p3 * calo_scale[:, None]
    track_e = np.where(tracked, np.sqrt((p3 ** 2).sum(1) + m2), 0.0)
    tracked = tracked & (calo_scale > 0)
    neutral = np.concatenate([ecal, hcal])
    n_pt = neutral[:, 0] / np.cosh(neutral[:, 1])
    n_p4 = np.stack([n_pt * np.cos(neutral[:, 2]), n_pt * np.sin(neutral[:, 2]), n_pt * np.sinh(neutral[:, 1]),
                     neutral[:, 0]], 1)
    t = np.flatnonzero(tracked)
    t_type = np.where(kind[t] == "electron", 3, np.where(kind[t] == "muon", 4, 0)).astype(np.int8)
    ip = np.zeros((len(t) + len(neutral), 4))
    ip[:len(t)] = np.stack([d0[t], s_d0[t], dz[t], s_dz[t]], 1)
    return {"p4": np.concatenate([np.concatenate([p3[t], track_e[t, None]], 1), n_p4]),
            "charge": np.concatenate([charge[t], np.zeros(len(neutral))]).astype(np.int8),
            "ptype": np.concatenate([t_type, ecal_t, hcal_t]), "ip": ip,
            "source": np.concatenate([t, np.full(len(neutral), -1)])}


__all__ = ["CARD", "LEVELS", "TRACK_RESOLUTION_IN_CALO", "detector_response", "impact_parameters", "ip_resolution",
           "log_normal"]
