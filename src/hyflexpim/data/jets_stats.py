"""Per-class observables of a jets set, to compare generated jets (particle or detector level) with JetClass:
jet mass peak and core width, constituent multiplicity, the share of constituents below 1 GeV, the leading
constituent's share of the jet pT, the jet width, the photon share.

    rows = jet_observables(load_jets("runs/jets-detector"))

The mass peak and core width are those of a Gaussian core: the mean and standard deviation of the masses within
±1.5 σ of the mean, iterated from the median and the half 16–84 % spread until they settle (tails from
mis-reconstructed or partly contained jets do not pull it). All from the stored constituents (the leading 128).
"""

from __future__ import annotations

import numpy as np

from hyflexpim.data.jets import FEATURES, JetData


def gaussian_core(x: np.ndarray, window: float = 1.5, steps: int = 50) -> tuple[float, float]:
    """(mean, σ) of the core of ``x``: iterated ±``window`` σ truncation (σ corrected for the truncation)."""
    x = np.asarray(x, np.float64)
    if len(x) < 5:
        return float("nan"), float("nan")
    mu, sigma = float(np.median(x)), float(0.5 * (np.quantile(x, 0.84) - np.quantile(x, 0.16)))
    # a unit Gaussian truncated to ±w has variance 1 − 2w·φ(w)/(2Φ(w) − 1)
    from math import erf, exp, pi, sqrt

    phi = exp(-window ** 2 / 2) / sqrt(2 * pi)
    shrink = sqrt(1 - 2 * window * phi / erf(window / sqrt(2)))
    for _ in range(steps):
        core = x[np.abs(x - mu) < window * sigma]
        if len(core) < 5:
            break
        new_mu, new_sigma = float(core.mean()), float(core.std() / shrink)
        if abs(new_mu - mu) < 1e-6 and abs(new_sigma - sigma) < 1e-6:
            break
        mu, sigma = new_mu, new_sigma
    return mu, sigma


def jet_observables(data: JetData) -> list[dict]:
    v = data.vectors.astype(np.float64) * data.mask[..., None]
    total = v.sum(1)
    mass = np.sqrt(np.maximum(total[:, 3] ** 2 - (total[:, :3] ** 2).sum(1), 0.0))
    pt = np.hypot(v[..., 0], v[..., 1])
    jet_pt = np.hypot(total[:, 0], total[:, 1])
    dr = data.features[..., FEATURES.index("part_deltaR")]
    width = (pt * dr).sum(1) / np.maximum(pt.sum(1), 1e-9)
    n = data.mask.sum(1)
    photon = data.features[..., FEATURES.index("part_isPhoton")] > 0.5
    rows = []
    for c, name in enumerate(data.class_names):
        sel = data.labels == c
        if not sel.any():
            continue
        peak, core = gaussian_core(mass[sel])
        m = data.mask[sel]
        rows.append({"class": name, "jets": int(sel.sum()), "mass_peak": peak, "mass_core_sigma": core,
                     "constituents": float(n[sel].mean()),
                     "below_1gev": float((pt[sel] < 1.0)[m].mean()),
                     "leading_fraction": float((pt[sel].max(1) / jet_pt[sel]).mean()),
                     "width": float(width[sel].mean()), "photons": float(photon[sel][m].mean()),
                     "jet_pt": float(jet_pt[sel].mean())})
    return rows


__all__ = ["gaussian_core", "jet_observables"]
