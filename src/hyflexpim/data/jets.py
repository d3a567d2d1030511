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
import hashlib
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyflexpim.errors import UserError

MAX_PARTICLES = 128
FEATURES = ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_charge",
            "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon",
            "part_d0", "part_d0err", "part_dz", "part_dzerr", "part_deta", "part_dphi"]
# weaver's preprocessing of ParT's JetClass configurations (particle_transformer data/JetClass/JetClass_full.yaml,
# `[name, subtract_by, multiply_by, clip_min, clip_max]`, defaults clip -5, 5): input = clip((x - center) * scale,
# min, max) for the variables with a center; the others enter as they are (d0 and dz through tanh, the yaml's
# new_variables `np.tanh(part_d0val)`); NaN becomes 0 (weaver's nan_to_num)
STANDARDIZE = {"part_pt_log": (1.7, 0.7, -5.0, 5.0), "part_e_log": (2.0, 0.7, -5.0, 5.0),
               "part_logptrel": (-4.7, 0.7, -5.0, 5.0), "part_logerel": (-4.7, 0.7, -5.0, 5.0),
               "part_deltaR": (0.2, 4.0, -5.0, 5.0), "part_d0err": (0.0, 1.0, 0.0, 1.0),
               "part_dzerr": (0.0, 1.0, 0.0, 1.0)}
TANH = ("part_d0", "part_dz")
# ParT's three published input sets (JetClass_{kin,kinpid,full}.yaml, `pf_features`), in their order; the batches
# carry `full` (= FEATURES) and a model picks its set's columns
FEATURE_SETS = {
    "kin": ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_deta", "part_dphi"],
    "kinpid": ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_charge",
               "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon",
               "part_deta", "part_dphi"],
    "full": FEATURES,
}
IMPACT_PARAMETERS = ("part_d0", "part_d0err", "part_dz", "part_dzerr")
GENERATED_CLASSES = ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"]
JETCLASS_LABELS = ["label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q", "label_Hqql", "label_Zqq",
                   "label_Wqq", "label_Tbqq", "label_Tbl"]
PARTICLE_TYPES = ["charged hadron", "neutral hadron", "photon", "electron", "muon"]
SPLITS = {"train": (0.0, 0.7), "validation": (0.7, 0.8), "test": (0.8, 1.0)}
SAMPLE = "jets_sample.npz"


@dataclass
class JetData:
    features: np.ndarray  # float32 [N, P, 17], physical values, zero where mask is False
    vectors: np.ndarray  # float32 [N, P, 4]: px, py, pz, E (GeV)
    mask: np.ndarray  # bool [N, P]
    labels: np.ndarray  # int64 [N]
    class_names: list[str]
    subjet: np.ndarray  # int8 [N, P]: exclusive-kT subjet of each constituent, -1 unknown or padding
    jet: np.ndarray  # float32 [N, 4]: jet pT, η, φ, E
    seed: int = 0
    meta: dict = field(default_factory=dict)

    kind = "jets"

    @property
    def num_labels(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)

    def split_indices(self, split: str) -> np.ndarray:
        """A fixed, seeded split: the same jets, in the same (shuffled) order, for the same seed; so the first N jets
        of a split are a random sample of it (generated files are ordered by class)."""
        if split not in SPLITS:
            raise UserError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        order = np.random.default_rng(self.seed).permutation(len(self))
        lo, hi = SPLITS[split]
        return order[int(lo * len(self)):int(hi * len(self))]

    def normalized(self, index=slice(None)) -> np.ndarray:
        """The model's inputs (all of ``FEATURES``), preprocessed as weaver does for ParT's JetClass configurations:
        standardized and clipped (``STANDARDIZE``), tanh on d0 and dz, NaN to 0, and 0 on padding."""
        x = self.features[index].astype(np.float32, copy=True)
        for i, name in enumerate(FEATURES):
            if name in STANDARDIZE:
                center, scale, lo, hi = STANDARDIZE[name]
                x[..., i] = np.clip((x[..., i] - center) * scale, lo, hi)
            elif name in TANH:
                x[..., i] = np.tanh(x[..., i])
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        x[~self.mask[index]] = 0.0
        return x

    def has_impact_parameters(self) -> bool:
        """Whether any jet carries impact parameters (JetClass files, the detector stage); particle-level jets have
        zeros there."""
        cols = [FEATURES.index(n) for n in IMPACT_PARAMETERS]
        return bool(np.any(self.features[..., cols]))

    def class_counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.class_names)}

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.features, self.vectors, self.mask, self.labels):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]


ARRAYS = ("features", "vectors", "mask", "labels", "subjet", "jet")


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


def _check(data: JetData, where) -> None:
    n, p = data.mask.shape
    shapes = {"features": (n, p, len(FEATURES)), "vectors": (n, p, 4), "labels": (n,), "subjet": (n, p),
              "jet": (n, 4)}
    for k, shape in shapes.items():
        if getattr(data, k).shape != shape:
            raise UserError(f"{where}: {k} has shape {getattr(data, k).shape}, expected {shape}")
    if n == 0 or not 0 < p <= MAX_PARTICLES:
        raise UserError(f"{where}: needs at least one jet and 1..{MAX_PARTICLES} particles per jet, got {n} × {p}")
    if data.labels.min() < 0 or data.labels.max() >= len(data.class_names):
        raise UserError(f"{where}: labels must be 0..{len(data.class_names) - 1}")
    if not (np.isfinite(data.features).all() and np.isfinite(data.vectors).all()):
        raise UserError(f"{where}: features hold NaN or infinity")


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
            from hyflexpim.data.jetclass_root import read_jetclass

            data = read_jetclass(roots, max_jets)
    data.seed = seed
    if max_jets is not None and len(data) > max_jets:
        data = subset(data, np.arange(max_jets))
    return data


def subset(data: JetData, index: np.ndarray) -> JetData:
    return JetData(**{k: getattr(data, k)[index] for k in ARRAYS}, class_names=list(data.class_names),
                   seed=data.seed, meta=dict(data.meta))


def particle_type(features: np.ndarray) -> np.ndarray:
    """Index into ``PARTICLE_TYPES`` per particle (from the one-hot flags), -1 where none is set."""
    flags = features[..., 6:11]
    return np.where(flags.max(-1) > 0.5, flags.argmax(-1), -1)


__all__ = [
    "FEATURES",
    "FEATURE_SETS",
    "GENERATED_CLASSES",
    "JETCLASS_LABELS",
    "MAX_PARTICLES",
    "PARTICLE_TYPES",
    "STANDARDIZE",
    "JetData",
    "load_jets",
    "particle_type",
    "save_jets",
    "subset",
]
