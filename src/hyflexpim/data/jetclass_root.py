"""Read JetClass's own ROOT files (tree ``tree``, one entry per jet, jagged ``part_*`` branches) through uproot.

The ten ``label_*`` branches become class indices in ``JETCLASS_LABELS`` order; particles are sorted by pT
(leading first) and cut at 128, as ParT's JetClass configuration does. Needs ``uproot`` (extra ``[jets]``).
"""

from __future__ import annotations

import numpy as np

from hyflexpim.data.jets_classes import jetclass_label
from hyflexpim.data.jets_types import FEATURES, JETCLASS_LABELS, MAX_PARTICLES, JetData, _check
from hyflexpim.errors import UserError

PARTICLE_BRANCHES = ["part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi", "part_d0val",
                     "part_d0err", "part_dzval", "part_dzerr", "part_charge", "part_isChargedHadron",
                     "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon"]
JET_BRANCHES = ["jet_pt", "jet_eta", "jet_phi", "jet_energy"]


def _pad(jagged, order, p: int) -> np.ndarray:
    out = np.zeros((len(jagged), p), np.float32)
    for i, (row, o) in enumerate(zip(jagged, order)):
        row = np.asarray(row, np.float32)[o][:p]
        out[i, :len(row)] = row
    return out


def read_jetclass(files: list[str], max_jets: int | None = None) -> JetData:
    try:
        import uproot
    except ImportError:
        raise UserError("reading JetClass ROOT files needs uproot: pip install 'hyflexpim[jets]'") from None
    parts, names = [], []
    left = max_jets
    for f in files:
        try:
            with uproot.open(f) as root:
                if "tree" not in root:
                    raise UserError(f"{f}: no tree 'tree' (JetClass files hold their jets in 'tree')")
                tree = root["tree"]
                want = PARTICLE_BRANCHES + JET_BRANCHES
                branches = set(tree.keys())
                labels = [b for b in JETCLASS_LABELS if b in branches]
                missing = [b for b in want if b not in branches]
                if missing or not labels:
                    raise UserError(f"{f}: not in JetClass's layout (missing {', '.join(missing or ['label_*'])})")
                arrays = tree.arrays(want + labels, library="np", entry_stop=left)
        except UserError:
            raise
        except Exception as e:  # uproot raises many kinds on a file that is not ROOT
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserError(f"cannot read ROOT file {f}: {first}") from None
        parts.append(arrays)
        names.append(labels)
        if left is not None:
            left -= len(arrays["jet_pt"])
            if left <= 0:
                break
    return _assemble(parts, names)


def _assemble(parts: list[dict], names: list[list[str]]) -> JetData:
    feats, vecs, masks, labels, jets = [], [], [], [], []
    for arrays, present in zip(parts, names):
        px, py = arrays["part_px"], arrays["part_py"]
        pt = [np.hypot(a, b) for a, b in zip(px, py)]
        order = [np.argsort(-x, kind="stable") for x in pt]
        p = min(MAX_PARTICLES, max((len(x) for x in pt), default=1))
        col = {b: _pad(arrays[b], order, p) for b in PARTICLE_BRANCHES}
        counts = np.array([min(len(x), p) for x in pt])
        mask = np.arange(p)[None, :] < counts[:, None]
        ptp = np.hypot(col["part_px"], col["part_py"])
        jet = np.stack([arrays[b].astype(np.float32) for b in JET_BRANCHES], 1)
        values = {
            "part_pt_log": _log_in_mask(ptp, mask), "part_e_log": _log_in_mask(col["part_energy"], mask),
            "part_logptrel": _log_in_mask(ptp / jet[:, :1], mask),
            "part_logerel": _log_in_mask(col["part_energy"] / jet[:, 3:4], mask),
            "part_deltaR": np.hypot(col["part_deta"], col["part_dphi"]), "part_charge": col["part_charge"],
            "part_d0": col["part_d0val"], "part_d0err": col["part_d0err"], "part_dz": col["part_dzval"],
            "part_dzerr": col["part_dzerr"], "part_deta": col["part_deta"], "part_dphi": col["part_dphi"],
        }
        for flag in ("part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon"):
            values[flag] = col[flag]
        f = np.stack([values[k] for k in FEATURES], -1).astype(np.float32)
        f[~mask] = 0
        v = np.stack([col[b] for b in ("part_px", "part_py", "part_pz", "part_energy")], -1)
        v[~mask] = 0
        onehot = np.stack([arrays[b] for b in present], 1)
        lab = np.array([JETCLASS_LABELS.index(present[i]) for i in onehot.argmax(1)], np.int64)
        feats.append(_pad_particles(f)), vecs.append(_pad_particles(v)), masks.append(_pad_particles(mask))
        labels.append(lab), jets.append(jet)
    mask = np.concatenate(masks)
    p = max(1, int(mask.sum(1).max()))
    data = JetData(features=np.concatenate(feats)[:, :p], vectors=np.concatenate(vecs)[:, :p], mask=mask[:, :p],
                   labels=np.concatenate(labels), class_names=[c.removeprefix("label_") for c in JETCLASS_LABELS],
                   subjet=np.full((len(mask), p), -1, np.int8), jet=np.concatenate(jets),
                   meta={"source": "JetClass ROOT"})
    _check(data, "JetClass files")
    return data


def _log_in_mask(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """log(x) on real particles (x floored at 1e-8), 0 on padding."""
    return np.log(np.where(mask, np.maximum(x, 1e-8), 1.0))


def _pad_particles(a: np.ndarray) -> np.ndarray:
    """Zero-pad the particle axis (axis 1) to MAX_PARTICLES so files with different widths concatenate."""
    return np.pad(a, [(0, 0), (0, MAX_PARTICLES - a.shape[1]), *[(0, 0)] * (a.ndim - 2)])


def write_jetclass(data: JetData, path, labels: list[str] | None = None) -> None:
    """``data`` as a JetClass-layout ROOT file (tree ``tree``: the jagged ``part_*`` branches JetClass has, with its
    signed Δη, ``jet_*`` and one-hot ``label_*`` branches), so weaver and the ParT repository read generated jets as
    they read JetClass. ``labels``: each jet's JetClass label branch; by default its class through the class map
    (``jets_classes``). Impact parameters as stored (zeros at particle level)."""
    try:
        import awkward as ak
        import uproot
    except ImportError:
        raise UserError("writing JetClass ROOT files needs uproot: pip install 'hyflexpim[jets]'") from None
    if labels is None:
        labels = [jetclass_label(data.class_names[c]) for c in data.labels]
    bad = sorted({b for b in labels if b not in JETCLASS_LABELS})
    if bad:
        raise UserError(f"no JetClass label for {', '.join(bad)}; JetClass's labels: {', '.join(JETCLASS_LABELS)}")
    counts = data.mask.sum(1)
    flat = lambda a: ak.unflatten(np.asarray(a)[data.mask].astype(np.float32), counts)  # noqa: E731
    col = lambda n: data.features[..., FEATURES.index(n)]  # noqa: E731
    out = {b: flat(data.vectors[..., k]) for k, b in enumerate(("part_px", "part_py", "part_pz", "part_energy"))}
    stored = {"part_d0val": "part_d0", "part_dzval": "part_dz"}
    for b in PARTICLE_BRANCHES[4:]:
        out[b] = flat(col(stored.get(b, b)))
    for k, b in enumerate(JET_BRANCHES):
        out[b] = data.jet[:, k].astype(np.float32)
    out["jet_nparticles"] = counts.astype(np.float32)
    for lab in JETCLASS_LABELS:
        out[lab] = np.array([b == lab for b in labels], np.float32)
    try:
        with uproot.recreate(str(path)) as f:
            f["tree"] = out
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
