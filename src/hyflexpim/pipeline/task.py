"""The task of a run: its data, split into tokenised batches, and the model that fits it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from hyflexpim.data import (
    PACKAGED_TASKS,
    TABLE_SUFFIXES,
    LMData,
    classification_batches,
    jet_batches,
    lm_blocks,
    load_task,
)
from hyflexpim.data.files import file_suffix
from hyflexpim.data.hub import is_hub_task
from hyflexpim.data.jets import load_jets
from hyflexpim.errors import UserError
from hyflexpim.pipeline.config import RunConfig


@dataclass
class Task:
    kind: str  # "classification" or "lm"
    data: object
    tokenizer: object
    config: RunConfig

    @property
    def num_labels(self) -> int:
        return self.data.num_labels if self.kind == "classification" else 0

    def batches(self, split: str, shuffle: bool = False, seed: int = 0):
        d = self.config.data
        if self.kind == "classification" and getattr(self.data, "kind", None) == "jets":
            index = self.data.split_indices(split)
            cap = d.max_eval if split == "test" else d.max_train if split == "train" else None
            bs = d.batch_size if split == "train" else d.eval_batch_size
            return jet_batches(self.data, index[:cap] if cap else index, bs, shuffle, seed)
        if self.kind == "classification":
            texts, labels = self.data.split(split)
            cap = d.max_eval if split == "test" else d.max_train if split == "train" else None
            if cap:
                texts, labels = texts[:cap], labels[:cap]
            if not shuffle:  # sort by length: less padding, same accuracy
                order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
                texts, labels = [texts[i] for i in order], [labels[i] for i in order]
            bs = d.batch_size if split == "train" else d.eval_batch_size
            return classification_batches(texts, labels, self.tokenizer, d.max_length, bs, shuffle, seed,
                                          group_by_length=shuffle)


        cap = d.max_train_tokens if split == "train" else d.max_eval_tokens
        blocks = lm_blocks(self.data.split(split), self.tokenizer, d.block_size, cap)
        if len(blocks) == 0:
            raise UserError(f"the {split} split has fewer than {d.block_size} tokens: give more text")
        bs = d.batch_size if split == "train" else d.eval_batch_size
        g = torch.Generator().manual_seed(seed)
        return DataLoader(blocks, batch_size=bs, shuffle=shuffle, generator=g,
                          collate_fn=lambda xs: {"input_ids": torch.stack(xs), "labels": torch.stack(xs)})


def is_jets_task(name: str) -> bool:
    """The shipped jets sample, a generated jets folder or .npz, or JetClass .root files."""
    p = Path(str(name)).expanduser()
    return name == "jets" or p.suffix in (".npz", ".root") or (p.is_dir() and (p / "jets.npz").is_file())


def load_run_task(config: RunConfig, tokenizer) -> Task:
    d = config.data
    if is_jets_task(config.task):
        if config.task_kind not in (None, "classification"):
            raise UserError(f"task {config.task!r} holds jets: a classification task, not {config.task_kind}")
        return Task("classification", load_jets(config.task, seed=d.seed), tokenizer, config)
    options = {"seed": d.seed}
    if config.task not in PACKAGED_TASKS and file_suffix(config.task) in TABLE_SUFFIXES:
        options.update(text_column=d.text_column, label_column=d.label_column)
    elif is_hub_task(config.task):  # the catalogue knows its columns; the user's fields override them when set
        defaults = type(d)()
        options.update(text_column=d.text_column if d.text_column != defaults.text_column else None,
                       label_column=d.label_column if d.label_column != defaults.label_column else None)
    data = load_task(config.task, kind=config.task_kind, **options)
    kind = "lm" if isinstance(data, LMData) else "classification"
    return Task(kind, data, tokenizer, config)
