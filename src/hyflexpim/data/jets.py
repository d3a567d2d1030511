"""Jets as a classification task: JetClass-style particle features, the shipped sample, JetClass ROOT files.

A jet is up to ``MAX_PARTICLES`` constituents, leading pT first, each with the 17 per-particle inputs of the
Particle Transformer's JetClass configuration ``full`` (``FEATURES``, physical values, Δη signed by the jet's η as in
JetClass; ``normalized`` applies weaver's standardization and clipping, ``STANDARDIZE``; ``FEATURE_SETS``: ParT's
``kin``, ``kinpid`` and ``full`` inputs) and its four-momentum (px, py, pz, E in GeV, from which ParT computes its
pair features ln Δ, ln kT, ln z, ln m²). A generated jet (``jets_generate``) also carries the exclusive-kT subjet
each constituent belongs to and its particle type; a JetClass ROOT file has no subjets (``subjet`` = -1).

    data = load_jets()                      # the shipped sample (5 classes, particle level)
    data = load_jets("runs/jets-gen")       # a `hyflexpim jets generate` folder (detector level by default)
    data = load_jets("JetClass_*.root")     # a user's JetClass files, through uproot
    idx = data.split_indices("test")

Impact parameters (d0, dz and their errors, mm) come from JetClass files or from the detector stage
(``jets_detector``); particle-level jets have zeros there (``has_impact_parameters``).
"""

from __future__ import annotations

import glob
import importlib.resources
from pathlib import Path

import numpy as np

from hyflexpim.data.jetclass_root import read_jetclass
from hyflexpim.data.jets_types import (  # the shared names, re-exported: import them from here
    ARRAYS,
    FEATURE_SETS,
    FEATURES,
    GENERATED_CLASSES,
    IMPACT_PARAMETERS,
    JETCLASS_LABELS,
    MAX_PARTICLES,
    PARTICLE_TYPES,
    SPLITS,
    STANDARDIZE,
    TANH,
    JetData,
    _check,
    subset,
)
from hyflexpim.errors import UserError

SAMPLE = "jets_sample.npz"


def features_from_particles(vectors: np.ndarray, mask: np.ndarray, jet: np.ndarray, charge: np.ndarray,
                            ptype: np.ndarray, ip: np.ndarray | None = None) -> np.ndarray:
    """The 17 inputs from four-momenta [N, P, 4], charges, particle types (``PARTICLE_TYPES`` index) and the jet
    (pT, η, φ, E); ``ip`` [N, P, 4]: d0, d0err, dz, dzerr in mm (the detector stage), None: zeros (particle level)."""
    px, py, pz, e = (vectors[..., i].astype(np.float64) for i in range(4))
    pt = np.hypot(px, py)
    ok = mask & (pt > 0)
    safe_pt = np.where(ok, pt, 1.0)
    eta = np.arcsinh(np.where(ok, pz / safe_pt, 0.0))
    phi = np.arctan2(py, px)
    # JetClass's convention (particle_transformer dataloader.py, utils/convert_top_datasets.py): Δη is signed by the
    # jet's η, sign(η_jet)·(η_i − η_jet) with sign(0) = +1, so jets in the two halves of the detector look alike
    side = np.where(jet[:, None, 1] < 0, -1.0, 1.0)
    deta = np.where(ok, side * (eta - jet[:, None, 1]), 0.0)
    dphi = np.where(ok, (phi - jet[:, None, 2] + np.pi) % (2 * np.pi) - np.pi, 0.0)
    log = lambda x: np.log(np.where(ok, np.maximum(x, 1e-30), 1.0))  # noqa: E731
    values = {"part_pt_log": log(pt), "part_e_log": log(e), "part_logptrel": log(pt / jet[:, None, 0]),
              "part_logerel": log(e / jet[:, None, 3]), "part_deltaR": np.hypot(deta, dphi),
              "part_charge": charge, "part_deta": deta, "part_dphi": dphi}
    for t, name in enumerate(FEATURES[6:11]):
        values[name] = (ptype == t).astype(np.float64)
    if ip is not None:
        values.update({n: ip[..., k] for k, n in enumerate(IMPACT_PARAMETERS)})
    f = np.stack([np.asarray(values.get(n, np.zeros_like(pt)), np.float64) for n in FEATURES], -1)
    f[~mask] = 0.0
    return f.astype(np.float32)


# on disk: four-momenta, charge and particle type per particle (the 17 inputs are derived on load, 5× smaller);
# data with impact parameters (JetClass) keeps its features
STORED = ("vectors", "mask", "labels", "subjet", "jet")


def save_jets(data: JetData, path: Path) -> Path:
    import io
    import json

    from hyflexpim.atomic import write_atomic

    arrays = {k: getattr(data, k) for k in STORED}
    if data.has_impact_parameters():
        arrays["features"] = data.features
    else:
        arrays["charge"] = data.features[..., FEATURES.index("part_charge")].astype(np.int8)
        arrays["ptype"] = particle_type(data.features).astype(np.int8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, class_names=np.array(data.class_names), seed=np.array(data.seed),
                        meta=np.array(json.dumps(data.meta)))
    return write_atomic(Path(path), buf.getvalue())


def _load_npz(path: Path) -> JetData:
    import json

    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in (*STORED, "class_names") if k not in z.files]
            if not missing and "features" not in z.files and not {"charge", "ptype"} <= set(z.files):
                missing = ["features (or charge and ptype)"]
            if missing:
                raise UserError(f"{path} is not a jets file written by hyflexpim (no {', '.join(missing)})")
            arrays = {k: z[k] for k in STORED}
            if "features" in z.files:
                arrays["features"] = z["features"]
            else:
                arrays["features"] = features_from_particles(arrays["vectors"], arrays["mask"], arrays["jet"],
                                                             z["charge"], z["ptype"])
            names = [str(c) for c in z["class_names"]]
            seed = int(z["seed"]) if "seed" in z.files else 0
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except (OSError, ValueError, EOFError) as e:
        raise UserError(f"cannot read jets file {path}: {str(e).splitlines()[0]}") from None
    data = JetData(**arrays, class_names=names, seed=seed, meta=meta)
    _check(data, path)
    return data


def require_classes(data: JetData, where: str = "jets") -> None:
    """Training needs two classes at least (a JetClass file often holds one)."""
    if len(np.unique(data.labels)) < 2:
        raise UserError(f"{where}: all jets are of one class ({data.class_names[int(data.labels[0])]}); "
                        "training a classifier needs at least two")


def sample_path() -> Path:
    return Path(str(importlib.resources.files("hyflexpim.data") / SAMPLE))


def load_jets(source: str | None = None, seed: int = 0, max_jets: int | None = None) -> JetData:
    """The shipped sample (``None`` or ``"jets"``), a jets ``.npz`` written by ``hyflexpim jets generate``, a
    folder holding one, or JetClass ``.root`` files (a path or a glob)."""
    if source in (None, "jets"):
        path = sample_path()
        if not path.is_file():
            raise UserError(f"the shipped jets sample is missing ({path}): reinstall hyflexpim")
        data = _load_npz(path)
    else:
        p = Path(source).expanduser()
        if p.is_dir() and (p / "jets.npz").is_file():
            data = _load_npz(p / "jets.npz")
        elif p.suffix == ".npz" and p.is_file():
            data = _load_npz(p)
        else:
            files = sorted(glob.glob(str(p))) if any(c in str(p) for c in "*?[") else [str(p)] if p.is_file() else []
            roots = [f for f in files if f.endswith(".root")]
            if not roots:
                raise UserError(f"jets source {source!r}: give 'jets' (the shipped sample), a jets .npz or a folder "
                                "holding jets.npz (hyflexpim jets generate), or JetClass .root files")
            data = read_jetclass(roots, max_jets)
    data.seed = seed
    if max_jets is not None and len(data) > max_jets:
        data = subset(data, np.arange(max_jets))
    return data


def particle_type(features: np.ndarray) -> np.ndarray:
    """Index into ``PARTICLE_TYPES`` per particle (from the one-hot flags), -1 where none is set."""
    flags = features[..., 6:11]
    return np.where(flags.max(-1) > 0.5, flags.argmax(-1), -1)


__all__ = [
    "ARRAYS",
    "FEATURES",
    "FEATURE_SETS",
    "GENERATED_CLASSES",
    "IMPACT_PARAMETERS",
    "JETCLASS_LABELS",
    "MAX_PARTICLES",
    "PARTICLE_TYPES",
    "SPLITS",
    "STANDARDIZE",
    "TANH",
    "JetData",
    "load_jets",
    "particle_type",
    "save_jets",
    "subset",
]
