"""The scale study of issue 32: is ParT's attention binary, and does it sharpen with training data, model size and
the pair-interaction bias? Every point (model size × pair bias on/off × training-set size) trains ParT on the first
N jets of one data set's training split (nested: the 3k jets are in the 12k ones), resumably (a checkpoint per point,
``algo.finetune_checkpoint``), then analyses it on the same test jets (``jets_step.analyze_jets``: binary-row
share, top-1 mass, k₉₀ per block, the attention-only map, accuracy and AUC). One table and one figure collect them.

    cfg = StudyConfig(data="runs/jets-100k", sizes=[3000, 12000, 50000, 100000], models=["small", "paper"])
    for line in plan(cfg, Path("runs/jets-study")): print(line)      # what would run, and a time estimate
    rows = run_study(cfg, Path("runs/jets-study"))                      # rerun after an interruption: it resumes
"""

from __future__ import annotations

import json
import math
from itertools import product
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from hyflexpim.config import Strict
from hyflexpim.errors import UserError

TRAIN_SHARE = 0.7  # the training split's share of a data set (hyflexpim.data.jets SPLITS)
# Seconds per 64-jet training step on 2 busy CPU cores when no point of this study has been trained yet: the upper
# ends of the ranges docs/jets.md §1b measured (small 0.34-1.2 s; paper about 10x small). Replaced by this
# study's own measurement (train.json's seconds_per_step, the mean over its trained points of that model) as soon
# as one point of the model is trained.
FALLBACK_SECONDS_PER_STEP = {"small": 1.2, "paper": 12.0}


class StudyConfig(Strict):
    data: str = Field(..., description="jets from `hyflexpim jets generate` (a folder or .npz), or `jets`")
    sizes: list[int] = Field([3000, 12000, 50000, 100000], min_length=1, description="training jets per point")
    models: list[Literal["small", "paper"]] = Field(["small", "paper"], min_length=1)
    pair_bias: list[bool] = Field([True, False], min_length=1, description="with / without the pair bias U")
    features: Literal["kin", "kinpid", "full"] = "full"
    epochs: float = Field(12.0, gt=0)
    batch_size: int = Field(64, ge=1)
    seed: int = Field(0, ge=0, lt=2**32)
    analysis_jets: int = Field(2000, ge=1, description="test jets analysed at every point (the same jets)")
    checkpoint_every: int | None = Field(None, ge=1, description="training steps between checkpoints (null: an "
                                         "epoch)")

    @field_validator("sizes")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(s < 1 for s in v):
            raise ValueError("sizes must be at least 1")
        return sorted(set(v))


def points(cfg: StudyConfig) -> list[dict]:
    return [{"name": f"{m}-pair{'on' if pb else 'off'}-{n}", "model": m, "pair_bias": pb, "train_jets": n}
            for m, pb, n in product(cfg.models, cfg.pair_bias, cfg.sizes)]


def _train_config(cfg: StudyConfig, p: dict):
    from hyflexpim.pipeline.jets_train import JetTrainConfig

    return JetTrainConfig(config=p["model"], features=cfg.features, epochs=cfg.epochs, batch_size=cfg.batch_size,
                          seed=cfg.seed, train_jets=p["train_jets"], pair_bias=p["pair_bias"])


def _done(folder: Path) -> bool:
    return (folder / "analysis" / "jets_attention.json").is_file() and (folder / "train.json").is_file()


def seconds_per_step(out: Path, cfg: StudyConfig) -> dict[str, tuple[float, str]]:
    """Per model: (seconds per training step, where the figure comes from), scaled to the study's batch size."""
    out_ = {}
    for m in cfg.models:
        got = []
        for p in points(cfg):
            f = out / p["name"] / "train.json"
            if p["model"] == m and f.is_file():
                r = json.loads(f.read_text())
                got.append(r["seconds_per_step"] * cfg.batch_size / r["train"]["batch_size"])
        out_[m] = ((sum(got) / len(got), f"measured here ({len(got)} points)") if got else
                   (FALLBACK_SECONDS_PER_STEP[m] * cfg.batch_size / 64, "docs/jets.md §1b, 2 busy cores"))
    return out_


def plan(cfg: StudyConfig, out: Path) -> list[str]:
    """The points, what is done, the training steps and a time estimate (training only; analysis adds minutes)."""
    out = Path(out)
    need = math.ceil(max(cfg.sizes) / TRAIN_SHARE)
    lines = [(f"scale study: {len(points(cfg))} points into {out}; data {cfg.data} (needs >= {max(cfg.sizes)} "
              f"training jets: >= {need} jets, e.g. `hyflexpim jets generate --out {cfg.data} --jets-per-class "
              f"{math.ceil(need / 5)} --workers N`)")]
    rate = seconds_per_step(out, cfg)
    total = 0.0
    for p in points(cfg):
        steps = max(1, round(cfg.epochs * math.ceil(p["train_jets"] / cfg.batch_size)))
        folder = out / p["name"]
        if _done(folder):
            lines.append(f"  {p['name']:<24} done")
            continue
        seconds = steps * rate[p["model"]][0]
        total += seconds
        state = "resumes from its checkpoint" if (folder / "train.ckpt").is_file() else "to train"
        lines.append(f"  {p['name']:<24} {steps:>7} steps, about {seconds / 3600:6.2f} h ({state})")
    for m, (s, src) in rate.items():
        lines.append(f"  {m}: {s:.2f} s per {cfg.batch_size}-jet step ({src})")
    lines.append(f"estimated training time: {total / 3600:.1f} h on one such machine (not counting the analyses)")
    return lines


def run_study(cfg: StudyConfig, out: Path, progress: bool = True, say=print) -> list[dict]:
    """Train and analyse every point not done yet (each resumable), then write ``study.csv``,
    ``study_blocks.csv``, ``study.json`` and ``study.png`` into ``out``; returns the table's rows."""
    from hyflexpim.atomic import write_atomic
    from hyflexpim.data.jets import load_jets
    from hyflexpim.models.part import load_part, save_part
    from hyflexpim.pipeline.jets_step import analyze_jets
    from hyflexpim.pipeline.jets_train import train_part

    out = Path(out)
    data = load_jets(cfg.data)
    data.seed = 0
    have = len(data.split_indices("train"))
    if max(cfg.sizes) > have:
        raise UserError(f"the largest size {max(cfg.sizes)} needs that many training jets; {cfg.data} has {have} "
                        f"(generate at least {math.ceil(max(cfg.sizes) / TRAIN_SHARE)} jets)")
    write_atomic(out / "study_config.json", cfg.model_dump_json(indent=1))
    for p in points(cfg):
        folder = out / p["name"]
        if _done(folder):
            continue
        say(f"point {p['name']}")
        if (folder / "model.pt").is_file() and (folder / "train.json").is_file():
            model = load_part(folder / "model.pt")
        else:
            model, report = train_part(data, _train_config(cfg, p), progress, say, checkpoint=folder / "train.ckpt",
                                       checkpoint_every=cfg.checkpoint_every)
            save_part(model, folder / "model.pt")
            write_atomic(folder / "train.json", json.dumps(report, indent=1))
            (folder / "train.ckpt").unlink(missing_ok=True)
        analyze_jets(model, data, folder / "analysis", cfg.analysis_jets, progress=progress, say=lambda *_: None)
    return write_table(cfg, out)


def collect(cfg: StudyConfig, out: Path) -> tuple[list[dict], list[dict]]:
    """(one row per point, one row per point and block) from the points' train.json and analysis."""
    from hyflexpim.pipeline.jets_train import mean_auc

    rows, blocks = [], []
    for p in points(cfg):
        folder = out / p["name"]
        if not _done(folder):
            continue
        train = json.loads((folder / "train.json").read_text())
        s = json.loads((folder / "analysis" / "jets_attention.json").read_text())
        b = s["binary"]

        def mean(key: str, b: list[dict] = b) -> float:
            return sum(r[key] for r in b) / len(b)

        rows.append({"model": p["model"], "pair_bias": p["pair_bias"], "train_jets": p["train_jets"],
                     "accuracy": s["test"]["accuracy"], "mean_auc": mean_auc(s["test"]["auc"]),
                     "test_jets": s["test"]["jets"], "binary_mean": mean("binary"), "binary_last": b[-1]["binary"],
                     "top1_mean": mean("top1"), "k90_mean": mean("k90"),
                     "binary_attention_only_mean": mean("binary_attention_only"),
                     "k90_attention_only_mean": mean("k90_attention_only"), "train_steps": train["steps"],
                     "seconds_per_step": train["seconds_per_step"]})
        blocks += [{"model": p["model"], "pair_bias": p["pair_bias"], "train_jets": p["train_jets"], **r} for r in b]
    return rows, blocks


def write_table(cfg: StudyConfig, out: Path) -> list[dict]:
    from hyflexpim.atomic import write_atomic
    from hyflexpim.report.attention_tables import _csv
    from hyflexpim.report.jets_study_plots import study_figure

    rows, blocks = collect(cfg, out)
    write_atomic(out / "study.csv", _csv(rows))
    write_atomic(out / "study_blocks.csv", _csv(blocks))
    write_atomic(out / "study.json", json.dumps({"config": cfg.model_dump(), "points": rows, "blocks": blocks,
                                                 "what": "binary = share of attention rows with max >= 0.9, k90 = "
                                                         "fewest keys holding 90 % of a row, per block and their "
                                                         "mean; accuracy and mean one-vs-rest AUC on the analysed "
                                                         "test jets (the same at every point)"}, indent=1))
    if rows:
        study_figure(rows, out / "study.png", f"ParT attention vs training jets ({cfg.features} inputs)")
    return rows
