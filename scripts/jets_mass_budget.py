"""Where a generated signal jet's mass comes from: the same Pythia events clustered several ways (docs/jets.md §1a).

For every event of a class (the generator's own settings, ``jets_generate.PROCESSES``) the anti-kT R = 0.8 jets
that pass the generator's selection (500 < pT < 1000 GeV, |η| < 2, the decaying particle and its quarks inside)
are clustered from

- ``all``: every final-state particle, neutrinos included;
- ``particle``: the visible ones (what ``--level particle`` clusters);
- ``detector``: the detector stage's particle-flow objects (``--level detector``: JetClass's card, whose particle
  flow gives a tower's tracks the calorimeter's energy when the tower has no significant neutral excess), the jet
  nearest the particle jet (ΔR < 0.4);
- ``detector_cms_card``: the same with the tracks weighed by their momentum resolution in that recombination, as
  Delphes' own CMS card does (``track_resolution_in_calo=None``);
- ``detector_no_recombination``: the tracks kept as measured (a track resolution of 1e-12: the stage before the
  recombination was added);

What the rest of the event adds (initial-state radiation, multiparton interactions) is measured by switching it off
with Pythia settings (``--set``), on the same seed.

    python scripts/jets_mass_budget.py --cls Hbb --events 1500 --seed 7
    python scripts/jets_mass_budget.py --cls Hbb --events 1500 --seed 7 --set "PartonLevel:MPI = off"
    python scripts/jets_mass_budget.py --cls Hbb --events 1500 --seed 7 --set "PartonLevel:MPI = off" \
        --set "PartonLevel:ISR = off"

Prints, per mass, the Gaussian core's peak and σ (``jets_stats.gaussian_core``, the estimator of ``jets stats``),
the mean and the number of jets.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from hyflexpim.data.jets_detector import TRACK_RESOLUTION_IN_CALO, detector_response
from hyflexpim.data.jets_generate import COMMON, MAX_ETA, PROCESSES, PT_RANGE, R, _decays, _delta_r, _imports
from hyflexpim.data.jets_stats import gaussian_core


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _mass(p4: np.ndarray) -> float:
    t = np.asarray(p4, np.float64).reshape(-1, 4).sum(0)
    return float(np.sqrt(max(t[3] ** 2 - (t[:3] ** 2).sum(), 0.0)))


def _cluster(fj, p4: np.ndarray):
    inputs = []
    for k, (px, py, pz, e) in enumerate(p4):
        pj = fj.PseudoJet(float(px), float(py), float(pz), float(e))
        pj.set_user_index(k)
        inputs.append(pj)
    cs = fj.ClusterSequence(inputs, fj.JetDefinition(fj.antikt_algorithm, R))
    return cs, [j for j in cs.inclusive_jets(PT_RANGE[0] * 0.8) if abs(j.eta()) < MAX_ETA + 0.5]


def _nearest(jets, jet):
    best = min(jets, key=lambda j: _delta_r(j.eta(), j.phi_std(), jet.eta(), jet.phi_std()), default=None)
    if best is None or _delta_r(best.eta(), best.phi_std(), jet.eta(), jet.phi_std()) > 0.4:
        return None
    return best


def budget(cls: str, events: int, seed: int, extra: list[str]) -> dict[str, list[float]]:
    pythia8mc, fj = _imports()
    settings, pdg, _ = PROCESSES[cls]
    pythia = pythia8mc.Pythia("", False)
    for line in COMMON + settings + extra + ["Random:setSeed = on", f"Random:seed = {seed}"]:
        if not pythia.readString(line):
            _fail(f"Pythia refused the setting {line!r}")
    if not pythia.init():
        _fail(f"Pythia did not initialise for {cls}")
    variants = {"detector": TRACK_RESOLUTION_IN_CALO, "detector_cms_card": None, "detector_no_recombination": 1e-12}
    rngs = {k: np.random.default_rng(seed) for k in variants}
    out: dict[str, list[float]] = {}
    done = 0
    while done < events:
        if not pythia.next():
            continue
        done += 1
        ev = pythia.event
        fin = [ev[i] for i in range(ev.size()) if ev[i].isFinal()]
        p4 = np.array([[p.px(), p.py(), p.pz(), p.e()] for p in fin])
        vis = np.array([p.isVisible() and p.pT() > 0 for p in fin])
        _cs_all, jets_all = _cluster(fj, p4)  # the sequences stay alive while their jets are read
        _cs_vis, jets_vis = _cluster(fj, p4[vis])
        idx_vis = np.flatnonzero(vis)
        a = np.array([[p.px(), p.py(), p.pz(), p.e(), p.id(), p.charge(), p.xProd(), p.yProd(), p.zProd()]
                      for p in (fin[i] for i in idx_vis)])
        clustered = {}
        for k, res in variants.items():
            det = detector_response(a[:, :4], a[:, 4].astype(np.int64), a[:, 5], a[:, 6:9], rngs[k], res)
            clustered[k] = _cluster(fj, det["p4"])  # the sequence stays alive with its jets
        decays = _decays(ev, pdg)
        for jet in jets_vis:
            if not (PT_RANGE[0] < jet.pt() < PT_RANGE[1] and abs(jet.eta()) < MAX_ETA):
                continue
            if not any(_delta_r(eta, phi, jet.eta(), jet.phi_std()) < R and quarks and
                       all(_delta_r(qe, qp, jet.eta(), jet.phi_std()) < R for qe, qp in quarks)
                       for eta, phi, quarks in decays):
                continue
            members = idx_vis[[c.user_index() for c in jet.constituents()]]
            out.setdefault("particle", []).append(_mass(p4[members]))
            j_all = _nearest(jets_all, jet)
            if j_all is not None:
                out.setdefault("all", []).append(j_all.m())
            for k, (_, jets_det) in clustered.items():
                j_det = _nearest(jets_det, jet)
                if j_det is not None:
                    out.setdefault(k, []).append(j_det.m())
                    out.setdefault(f"{k}: pT / particle pT", []).append(j_det.pt() / jet.pt())
            out.setdefault("particle_pt", []).append(jet.pt())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cls", default="Hbb", choices=[c for c, v in PROCESSES.items() if v[1]])
    ap.add_argument("--events", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--set", action="append", default=[], help="an extra Pythia setting (repeatable)")
    args = ap.parse_args()
    rows = budget(args.cls, args.events, args.seed, args.set)
    print(f"{args.cls}, {args.events} events, seed {args.seed}, extra settings {args.set or 'none'}")
    print(f"{'quantity':40s} {'peak':>8s} {'core σ':>8s} {'mean':>8s} {'jets':>6s}")
    for k, v in rows.items():
        x = np.asarray(v)
        peak, sigma = gaussian_core(x)
        print(f"{k:40s} {peak:8.2f} {sigma:8.2f} {x.mean():8.2f} {len(x):6d}")


if __name__ == "__main__":
    main()
