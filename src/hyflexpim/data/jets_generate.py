"""Generate JetClass-like jets offline: Pythia 8 proton–proton collisions at 13.6 TeV → anti-kT R = 0.8 jets
(FastJet) → JetClass-style particle features, with the truth label from matching the jet to the decaying
particle and the exclusive-kT subjet of every constituent.

Classes (``PROCESSES``): QCD light-quark/gluon jets (``HardQCD:all``), H → bb̄ (``ffbar2HZ`` with Z → νν̄),
hadronic top t → bqq′ (tt̄, both W → qq′), W → qq′ (W + jet), Z → qq̄ (Z + jet). A jet is kept when
500 < pT < 1000 GeV and |η| < 2 (JetClass's selection); a signal jet also needs the decaying particle and each of
its quarks within ΔR < 0.8 of the jet axis. ``level="detector"`` (the default) clusters the particle-flow objects
of the parametric detector stage (``jets_detector``: Delphes' CMS card, with impact parameters from Pythia's
production vertices); ``level="particle"`` all visible final-state particles (impact parameters zero).

Work is cut into chunks of ``chunk`` jets per class, each with its own Pythia seed (the detector stage's random
stream too), written as ``<out>/parts-detector/<class>-<k>.npz`` (``parts/`` at particle level); an interrupted run
resumes at the first missing chunk and gives the same jets.
``<out>/jets.npz`` holds them all, with the versions, seeds and throughput in its ``meta``. Needs the ``[jets]``
extra (``pythia8mc``, an sdist that compiles, and ``fastjet``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from hyflexpim.data.jets import GENERATED_CLASSES, MAX_PARTICLES, JetData, _load_npz, features_from_particles, save_jets
from hyflexpim.errors import UserError

ENERGY_GEV = 13600.0
PT_RANGE = (500.0, 1000.0)
MAX_ETA = 2.0
R = 0.8
COMMON = ["Beams:eCM = 13600.", "Next:numberCount = 0", "Next:numberShowEvent = 0", "Next:numberShowInfo = 0",
          "Next:numberShowProcess = 0", "Print:quiet = on", "PhaseSpace:pTHatMin = 450.",
          "PhaseSpace:pTHatMax = 1100."]
HADRONIC = "onIfAny = 1 2 3 4 5"
# class -> (Pythia settings, |PDG id| of the decaying particle or None for QCD, exclusive subjets)
PROCESSES = {
    "QCD": (["HardQCD:all = on"], None, 2),
    "Hbb": (["HiggsSM:ffbar2HZ = on", "25:onMode = off", "25:onIfMatch = 5 -5", "23:onMode = off",
             "23:onIfAny = 12 14 16"], 25, 2),
    "Tbqq": (["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", f"24:{HADRONIC}"], 6, 3),
    "Wqq": (["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", "24:onMode = off",
             f"24:{HADRONIC}"], 24, 2),
    "Zqq": (["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
             "23:onMode = off", f"23:{HADRONIC}"], 23, 2),
}
assert list(PROCESSES) == GENERATED_CLASSES


def _imports():
    try:
        import fastjet._swig as fj
        import pythia8mc
    except ImportError as e:
        raise UserError(f"generating jets needs the [jets] extra ({e.name} is missing): "
                        "pip install 'hyflexpim[jets]' (pythia8mc 8.317.2 and fastjet are wheels)") from None
    return pythia8mc, fj


def _wrap(dphi):
    return (dphi + math.pi) % (2 * math.pi) - math.pi


def _delta_r(eta1, phi1, eta2, phi2) -> float:
    return math.hypot(eta1 - eta2, _wrap(phi1 - phi2))


def _decays(event, pdg: int) -> list[tuple[float, float, list[tuple[float, float]]]]:
    """(η, φ, [(η, φ) of each quark]) of every decaying particle ``pdg`` in the event (its last copy)."""
    out = []
    for i in range(event.size()):
        p = event[i]
        if p.idAbs() != pdg or event[p.daughter1()].idAbs() == pdg:
            continue
        quarks, todo = [], list(p.daughterList())
        while todo:  # down through W copies (top → W b, W → W → q q′) to the quarks
            d = event[todo.pop()]
            if 1 <= d.idAbs() <= 5:
                quarks.append((d.eta(), d.phi()))
            elif d.idAbs() in (23, 24):
                todo.extend(d.daughterList())
        if p.pT() > 1.0:
            out.append((p.eta(), p.phi(), quarks))
    return out


def _particle_type(pdg: int, charge: float) -> int:
    """Index into PARTICLE_TYPES: charged hadron, neutral hadron, photon, electron, muon."""
    a = abs(pdg)
    return 4 if a == 13 else 3 if a == 11 else 2 if a == 22 else 0 if charge != 0 else 1


def _objects(event, rng) -> dict:
    """The event's visible final-state particles, or (``rng`` given) the detector stage's particle-flow objects."""
    from hyflexpim.data.jets_detector import detector_response

    rows = [(p.px(), p.py(), p.pz(), p.e(), p.id(), p.charge(), p.xProd(), p.yProd(), p.zProd())
            for p in (event[i] for i in range(event.size())) if p.isFinal() and p.isVisible() and p.pT() > 0]
    a = np.array(rows, np.float64).reshape(-1, 9)
    pdg, charge = a[:, 4].astype(np.int64), a[:, 5]
    if rng is None:
        ptype = np.array([_particle_type(int(i), c) for i, c in zip(pdg, charge)], np.int8)
        return {"p4": a[:, :4], "charge": charge.astype(np.int8), "ptype": ptype, "ip": None}
    return detector_response(a[:, :4], pdg, charge, a[:, 6:9], rng)


def _jets_of_event(pythia, fj, label: int, pdg, n_subjets: int, rng=None) -> list[dict]:
    event = pythia.event
    obj = _objects(event, rng)
    inputs = []
    for k, (px, py, pz, e) in enumerate(obj["p4"]):
        pj = fj.PseudoJet(float(px), float(py), float(pz), float(e))
        pj.set_user_index(k)
        inputs.append(pj)
    cs = fj.ClusterSequence(inputs, fj.JetDefinition(fj.antikt_algorithm, R))
    decays = _decays(event, pdg) if pdg else []
    found = []
    for jet in cs.inclusive_jets(PT_RANGE[0]):
        if not (PT_RANGE[0] < jet.pt() < PT_RANGE[1] and abs(jet.eta()) < MAX_ETA):
            continue
        if pdg:  # the jet must hold the decaying particle and all its quarks
            ok = any(_delta_r(eta, phi, jet.eta(), jet.phi_std()) < R and quarks and
                     all(_delta_r(qe, qp, jet.eta(), jet.phi_std()) < R for qe, qp in quarks)
                     for eta, phi, quarks in decays)
            if not ok:
                continue
        parts = sorted(jet.constituents(), key=lambda c: -c.pt())[:MAX_PARTICLES]
        subjet = np.full(len(parts), -1, np.int8)
        sub = fj.ClusterSequence(list(jet.constituents()), fj.JetDefinition(fj.kt_algorithm, R))
        pieces = sorted(sub.exclusive_jets(min(n_subjets, len(parts))), key=lambda s: -s.pt())
        owner = {c.user_index(): k for k, s in enumerate(pieces) for c in s.constituents()}
        for j, c in enumerate(parts):
            subjet[j] = owner.get(c.user_index(), -1)
        idx = [c.user_index() for c in parts]
        found.append({"charge": obj["charge"][idx].tolist(), "ptype": obj["ptype"][idx].tolist(),
                      "vectors": [[c.px(), c.py(), c.pz(), c.e()] for c in parts], "subjet": subjet,
                      "ip": None if obj["ip"] is None else obj["ip"][idx],
                      "jet": [jet.pt(), jet.eta(), jet.phi_std(), jet.e()], "label": label})
    return found


def _stack(rows: list[dict], seed: int) -> JetData:
    n = len(rows)
    vecs = np.zeros((n, MAX_PARTICLES, 4), np.float32)
    mask = np.zeros((n, MAX_PARTICLES), bool)
    subjet = np.full((n, MAX_PARTICLES), -1, np.int8)
    charge = np.zeros((n, MAX_PARTICLES), np.int8)
    ptype = np.full((n, MAX_PARTICLES), -1, np.int8)
    detector = any(r["ip"] is not None for r in rows)
    ip = np.zeros((n, MAX_PARTICLES, 4), np.float32) if detector else None
    for i, r in enumerate(rows):
        k = len(r["vectors"])
        vecs[i, :k], mask[i, :k], subjet[i, :k] = r["vectors"], True, r["subjet"]
        charge[i, :k], ptype[i, :k] = r["charge"], r["ptype"]
        if detector:
            ip[i, :k] = r["ip"]
    jet = np.array([r["jet"] for r in rows], np.float32).reshape(n, 4)
    return JetData(features=features_from_particles(vecs, mask, jet, charge, ptype, ip), vectors=vecs, mask=mask,
                   labels=np.array([r["label"] for r in rows], np.int64), class_names=list(GENERATED_CLASSES),
                   subjet=subjet, jet=jet, seed=seed)


def generate_chunk(name: str, n_jets: int, seed: int, progress=None, level: str = "detector") -> tuple[JetData, dict]:
    """``n_jets`` jets of class ``name`` from one Pythia instance seeded with ``seed``; ``level`` "detector": through
    the detector stage (``jets_detector``, its random stream seeded with ``seed`` too), "particle": generator level."""
    pythia8mc, fj = _imports()
    settings, pdg, n_sub = PROCESSES[name]
    pythia = pythia8mc.Pythia("", False)
    for line in COMMON + settings + ["Random:setSeed = on", f"Random:seed = {seed}"]:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia refused the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia did not initialise for {name}")
    rows, events, t = [], 0, time.perf_counter()
    label = GENERATED_CLASSES.index(name)
    rng = np.random.default_rng(seed) if level == "detector" else None
    while len(rows) < n_jets:
        if not pythia.next():
            continue
        events += 1
        got = _jets_of_event(pythia, fj, label, pdg, n_sub, rng)[: n_jets - len(rows)]
        rows.extend(got)
        if progress and got:
            progress(len(got))
        if events > 200 * n_jets + 1000:
            raise RuntimeError(f"{name}: only {len(rows)} jets passed the selection in {events} events")
    stats = {"class": name, "jets": len(rows), "events": events, "seconds": time.perf_counter() - t, "seed": seed,
             "level": level}
    return _stack(rows, seed), stats


def _concat(parts: list[JetData], seed: int, meta: dict) -> JetData:
    keys = ("features", "vectors", "mask", "labels", "subjet", "jet")
    arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in keys}
    width = max(1, int(arrays["mask"].sum(1).max()))
    for k in ("features", "vectors", "mask", "subjet"):
        arrays[k] = arrays[k][:, :width]
    return JetData(**arrays, class_names=list(GENERATED_CLASSES), seed=seed, meta=meta)


def _chunk_job(name: str, n: int, seed: int, path: str, level: str = "detector") -> dict:
    """One chunk, in its own process: generate, save, return its statistics."""
    data, stats = generate_chunk(name, n, seed, level=level)
    data.meta = stats
    save_jets(data, Path(path))
    return stats


def generate(out: Path, jets_per_class: int, seed: int = 0, chunk: int = 100, classes=None,
             show_progress: bool = True, workers: int = 1, level: str = "detector") -> Path:
    """Generate (or resume) ``jets_per_class`` jets of each class into ``out``; returns ``out/jets.npz``.
    ``workers`` processes generate chunks side by side (each chunk has its own seed: the same jets either way).
    ``level``: "detector" (the parametric detector stage, chunks in ``parts-detector/``) or "particle"
    (generator level, chunks in ``parts/``)."""
    from hyflexpim.data.jets_detector import CARD, LEVELS

    if level not in LEVELS:
        raise UserError(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
    classes = list(classes or GENERATED_CLASSES)
    bad = [c for c in classes if c not in PROCESSES]
    if bad:
        raise UserError(f"unknown jet class {bad[0]!r}; allowed: {', '.join(PROCESSES)}")
    if jets_per_class < 1 or chunk < 1 or workers < 1:
        raise UserError(f"--jets-per-class, --chunk and --workers must be at least 1, got {jets_per_class}, {chunk}, "
                        f"{workers}")
    _imports()
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    out = Path(out)
    parts_dir = out / ("parts" if level == "particle" else f"parts-{level}")
    parts_dir.mkdir(parents=True, exist_ok=True)
    plan = [(c, k, min(chunk, jets_per_class - k * chunk)) for c in classes
            for k in range(-(-jets_per_class // chunk))]
    bar = tqdm(total=len(classes) * jets_per_class, unit="jet", disable=not show_progress, desc="jets")
    todo = []
    for c, k, n in plan:
        path = parts_dir / f"{c}-{k:04d}.npz"
        if path.is_file() and len(_load_npz(path)) == n:
            bar.update(n)
        else:
            todo.append((c, n, 1 + seed * 100_000 + GENERATED_CLASSES.index(c) * 10_000 + k, str(path), level))
    if workers == 1:
        for job in todo:
            _chunk_job(*job)
            bar.update(job[1])
    else:
        with ProcessPoolExecutor(workers) as pool:
            for f in as_completed([pool.submit(_chunk_job, *job) for job in todo]):
                bar.update(f.result()["jets"])
    bar.close()
    parts = [_load_npz(parts_dir / f"{c}-{k:04d}.npz") for c, k, _ in plan]
    stats = [p.meta for p in parts]
    from importlib.metadata import version

    import fastjet

    jets = sum(s["jets"] for s in stats)
    seconds = sum(s["seconds"] for s in stats)
    meta = {"generator": f"pythia8mc {version('pythia8mc')}", "fastjet": fastjet.__version__, "seed": seed,
            "jets_per_class": jets_per_class, "chunk": chunk, "classes": classes,
            "events": sum(s["events"] for s in stats), "generation_cpu_seconds": round(seconds, 1),
            "jets_per_second_per_process": round(jets / seconds, 2) if seconds else None, "workers": workers,
            "selection": f"anti-kT R={R}, {PT_RANGE[0]:g} < pT < {PT_RANGE[1]:g} GeV, |eta| < {MAX_ETA:g}",
            "energy_gev": ENERGY_GEV, "level": level,
            "detector": "none (generator level)" if level == "particle" else f"parametric CMS-like ({CARD})",
            "source": f"generated jets ({level} level)",
            "command": f"hyflexpim jets generate --jets-per-class {jets_per_class} --seed {seed} --chunk {chunk} "
                       f"--level {level}"}
    return save_jets(_concat(parts, seed, meta), out / "jets.npz")
