"""The class map between the generated jet classes and JetClass's ten labels, so that a model of either kind runs on
jets of the other kind.

Generated class → JetClass label (the same physics process and truth matching, ``jets_generate.PROCESSES``):
QCD → QCD (light quarks and gluons), Hbb → Hbb, Tbqq → Tbqq, Wqq → Wqq, Zqq → Zqq. JetClass's Hcc, Hgg, H4q, Hqql
and Tbl have no generated counterpart.

    data = to_model_classes(load_jets("JetClass_*.root"), model.config.class_names, say=print)

Jets of a class the model has no output for are left out and named in one line; the model's classes without jets
here are named too (they have no AUC). Never silently.
"""

from __future__ import annotations

import numpy as np

from hyflexpim.data.jets_types import GENERATED_CLASSES, JETCLASS_LABELS, JetData, subset
from hyflexpim.errors import UserError

JETCLASS_CLASSES = [c.removeprefix("label_") for c in JETCLASS_LABELS]
# generated class -> JetClass class
GENERATED_TO_JETCLASS = {"QCD": "QCD", "Hbb": "Hbb", "Tbqq": "Tbqq", "Wqq": "Wqq", "Zqq": "Zqq"}
assert list(GENERATED_TO_JETCLASS) == GENERATED_CLASSES and set(GENERATED_TO_JETCLASS.values()) <= set(JETCLASS_CLASSES)
_ALIASES = {**GENERATED_TO_JETCLASS, **{j: g for g, j in GENERATED_TO_JETCLASS.items()}}


def _target(name: str, model_classes: list[str]) -> int | None:
    """Index of ``name`` among the model's classes: the same name, or its counterpart under the class map."""
    for candidate in (name, _ALIASES.get(name)):
        if candidate in model_classes:
            return model_classes.index(candidate)
    return None


def jetclass_label(name: str) -> str:
    """The JetClass label branch of a class name (generated or JetClass), e.g. "Hbb" → "label_Hbb"."""
    target = name if name in JETCLASS_CLASSES else GENERATED_TO_JETCLASS.get(name)
    return f"label_{target}" if target else name


def to_model_classes(data: JetData, model_classes: list[str], say=print) -> JetData:
    """``data`` relabelled to the model's classes (its outputs' order). Jets of a class the model lacks are left out,
    with one line naming those classes and counts; the model's classes with no jets here are named in one line."""
    model_classes = list(model_classes)
    if list(data.class_names) == model_classes:
        return data
    counts = {c: int((data.labels == i).sum()) for i, c in enumerate(data.class_names)}
    mapping = {i: _target(c, model_classes) for i, c in enumerate(data.class_names)}
    dropped = {c: n for i, c in enumerate(data.class_names) if mapping[i] is None and (n := counts[c])}
    keep = np.array([mapping[int(lab)] is not None for lab in data.labels])
    if not keep.any():
        raise UserError(f"none of these jets' classes ({', '.join(c for c, n in counts.items() if n)}) is a class of "
                        f"the model ({', '.join(model_classes)}), directly or through the class map")
    if dropped:
        say(f"class map: {sum(dropped.values())} jets of classes the model has no output for are left out: "
            + ", ".join(f"{c} ({n})" for c, n in dropped.items()))
    out = subset(data, np.flatnonzero(keep)) if not keep.all() else subset(data, np.arange(len(data)))
    out.labels = np.array([mapping[int(lab)] for lab in out.labels], np.int64)
    out.class_names = model_classes
    have = set(out.labels.tolist())
    empty = [c for i, c in enumerate(model_classes) if i not in have]
    if empty:
        say(f"class map: the model's classes {', '.join(empty)} have no jets here (no AUC for them)")
    out.meta = {**out.meta, "class_map": {c: (model_classes[mapping[i]] if mapping[i] is not None else None)
                                          for i, c in enumerate(data.class_names)}}
    return out


__all__ = ["GENERATED_TO_JETCLASS", "JETCLASS_CLASSES", "jetclass_label", "to_model_classes"]
