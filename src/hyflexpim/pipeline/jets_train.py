"""Train ParT on jets and measure it: the packaged ``part`` model is ParT ``small`` trained on the shipped sample's
training split, cached under the hyflexpim cache folder like the de-quantized SmolLM2.

    model, report = train_part(load_jets(), "small", JetTrainConfig())
    path = packaged_part()            # trains once (about two minutes on 2 cores), then loads
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from hyflexpim.config import Strict
from hyflexpim.errors import UserError


class JetTrainConfig(Strict):
    config: str = Field("small", description="ParT configuration: small | paper")
    features: Literal["kin", "kinpid", "full"] = Field(
        "full", description="ParT's input set (JetClass_{kin,kinpid,full}.yaml): kinematics; + charge and particle "
                            "ID; + impact parameters")
    epochs: float = Field(12.0, gt=0)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(64, ge=1)
    weight_decay: float = Field(0.01, ge=0)
    seed: int = Field(0, ge=0, lt=2**32, description="initialisation, batch order and dropout")
    split_seed: int = Field(0, ge=0, lt=2**32, description="seed of the train/validation/test split")
    train_jets: int | None = Field(None, ge=1, description="train on the first N jets of the training split (a "
                                   "random sample of it; null: all); the scale study's training-set size")
    pair_bias: bool = Field(True, description="ParT's pair-interaction bias U (off: plain attention, no pair "
                                              "embedding)")


def auc_one_vs_rest(scores: np.ndarray, labels: np.ndarray) -> list[float | None]:
    """Per class, the ROC AUC of its softmax score against all other classes (Mann–Whitney, ties halved)."""
    out = []
    for c in range(scores.shape[1]):
        pos, neg = scores[labels == c, c], scores[labels != c, c]
        if len(pos) == 0 or len(neg) == 0:
            out.append(None)
            continue
        _, inverse, counts = np.unique(np.concatenate([pos, neg]), return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        ranks = ((ends - counts + 1 + ends) / 2)[inverse]  # average rank of tied scores
        out.append(float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))))
    return out


def predict(model, data, split: str = "test", batch_size: int = 256,
            index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Softmax scores [N, classes] and labels of a split (or of ``index``, jets of that split)."""
    import torch

    from hyflexpim.data import jet_batches

    scores, labels = [], []
    model.eval()
    with torch.no_grad():
        for b in jet_batches(data, data.split_indices(split) if index is None else index, batch_size):
            labels.append(b.pop("labels").numpy())
            scores.append(torch.softmax(model(**b).logits.float(), -1).numpy())
    return np.concatenate(scores), np.concatenate(labels)


def mean_auc(auc: dict[str, float | None]) -> float | None:
    """Mean one-vs-rest AUC over the classes that have one (a class absent from the data has none); None if none."""
    have = [a for a in auc.values() if a is not None]
    return sum(have) / len(have) if have else None


def measure(model, data, split: str = "test", index: np.ndarray | None = None) -> dict:
    """Accuracy and one-vs-rest AUC on a split, or on ``index`` (jets of that split). ``classes_present``: the classes
    with at least one jet; with fewer than two, accuracy is only the share called that class and no AUC exists."""
    scores, labels = predict(model, data, split, index=index)
    auc = auc_one_vs_rest(scores, labels)
    present = [c for i, c in enumerate(data.class_names) if (labels == i).any()]
    return {"split": split, "jets": int(len(labels)), "accuracy": float((scores.argmax(1) == labels).mean()),
            "auc": dict(zip(data.class_names, auc)), "classes_present": present}


def train_part(data, cfg: JetTrainConfig | None = None, progress: bool = True, say=print,
               checkpoint: Path | None = None, checkpoint_every: int | None = None):
    """ParT trained on ``data``'s training split; returns (model, report with accuracy and AUC on the test split).
    ``checkpoint``: a file written every ``checkpoint_every`` steps (None: every epoch) and at the end; a run that
    finds one of the same settings and data resumes from it (``algo.finetune_checkpoint``)."""
    import torch

    from hyflexpim.algo.finetune import FinetuneConfig, finetune
    from hyflexpim.data import jet_batches
    from hyflexpim.data.jets import require_classes
    from hyflexpim.models.part import build_part

    cfg = cfg or JetTrainConfig()
    data.seed = cfg.split_seed
    require_classes(data, "jets training data")
    extra = {} if cfg.pair_bias else {"pair_embed_dims": None}
    model = build_part(cfg.config, data.num_labels, seed=cfg.seed, features=cfg.features,
                       class_names=list(data.class_names), **extra)
    impact = data.has_impact_parameters()
    if cfg.features == "full" and not impact:
        say("note: feature set 'full' on jets without impact parameters (particle level): d0, dz and their errors "
            "are zeros — generate with --level detector, or train --features kinpid")
    index = data.split_indices("train")
    if cfg.train_jets is not None:
        if cfg.train_jets > len(index):
            raise UserError(f"train_jets={cfg.train_jets} but the training split has {len(index)} jets")
        index = index[:cfg.train_jets]
    train = jet_batches(data, index, cfg.batch_size, shuffle=True, seed=cfg.seed)
    ck = None
    if checkpoint is not None:
        from hyflexpim.algo.finetune_checkpoint import Checkpointing

        ck = Checkpointing(Path(checkpoint), checkpoint_every,
                           {"train": cfg.model_dump(), "data": data.digest(), "jets": len(index)})
    torch.manual_seed(cfg.seed)
    t = time.perf_counter()
    res = finetune(model, train, FinetuneConfig(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                                warmup_fraction=0.05), "train ParT", progress, checkpoint=ck)
    seconds = time.perf_counter() - t
    report = {"config": model.config.to_dict(), "train": cfg.model_dump(), "steps": res.steps,
              "final_loss": res.final_loss, "train_seconds": round(seconds, 1),
              "resumed_from_step": res.resumed_from,
              "seconds_per_step": round(seconds / max(res.steps - res.resumed_from, 1), 3), "data": data.digest(),
              "train_jets": len(index),
              "classes": data.class_counts(), "features": cfg.features,
              "impact_parameters": "from the data" if impact else "zeros (the data has none)",
              "validation": measure(model, data, "validation"),
              "test": measure(model, data, "test")}
    say(f"trained ParT '{cfg.config}' in {seconds:.0f} s ({res.steps} steps): test accuracy "
        f"{100 * report['test']['accuracy']:.1f} % on {report['test']['jets']} jets")
    return model, report


def packaged_part(progress: bool = True, say=print) -> Path:
    """The cached ``part`` model (ParT small trained on the shipped sample), trained first when missing."""
    from hyflexpim.atomic import exclusive, write_atomic
    from hyflexpim.data.jets import load_jets
    from hyflexpim.models.load import cache_dir
    from hyflexpim.models.part import packaged_path, save_part

    path = packaged_path(cache_dir())
    if path.is_file():
        return path
    with exclusive(path.with_name(path.name + ".lock")):  # two processes at once: one trains, the other waits
        if path.is_file():
            return path
        say("training the packaged ParT model on the shipped jets sample (once; cached in "
            f"{path.parent})")
        model, report = train_part(load_jets(), JetTrainConfig(), progress, say)
        write_atomic(path.with_suffix(".json"), json.dumps(report, indent=1))
        save_part(model, path)
    return path
