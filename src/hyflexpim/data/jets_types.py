"""The jets' shared vocabulary: the per-particle inputs (``FEATURES``, their preprocessing and ParT's input sets),
the class names, the splits, ``JetData`` and its shape check, and ``subset``. Imported by ``hyflexpim.data.jets``
(the loaders, which re-export these names: import them from there) and by ``jetclass_root`` and ``jets_classes``,
which ``jets`` imports: kept apart so that no import runs in a circle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

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


def subset(data: JetData, index: np.ndarray) -> JetData:
    return JetData(**{k: getattr(data, k)[index] for k in ARRAYS}, class_names=list(data.class_names),
                   seed=data.seed, meta=dict(data.meta))
