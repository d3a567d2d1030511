"""Tokenised tensors for fine-tuning and evaluation (the only data module that imports torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from hyflexpim.errors import UserError

from .hub import PAIR_SEPARATOR


def classification_batches(
    texts: Sequence[str],
    labels: Sequence[int],
    tokenizer,
    max_length: int = 64,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    group_by_length: bool = False,
) -> DataLoader:
    """Batches of {"input_ids", "attention_mask": LongTensor [b, <= max_length], "labels": LongTensor [b]}.

    Texts are truncated to `max_length` tokens and padded to the longest in their batch. With
    `shuffle`, the order is drawn from a torch generator seeded by `seed` (a new order each epoch,
    the same sequence of orders every run). A tokenizer without a pad token gets its eos token as pad.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(texts) == 0:
        raise UserError("no texts to batch: the split is empty")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    examples = list(zip(texts, labels))

    def collate(batch):
        texts = [text for text, _ in batch]
        pairs = [t.split(PAIR_SEPARATOR, 1) for t in texts] if any(PAIR_SEPARATOR in t for t in texts) else None
        encoded = tokenizer(
            *([[p[0] for p in pairs], [p[-1] for p in pairs]] if pairs else [texts]),  # a sentence pair: two segments
            padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        return {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "labels": torch.tensor([label for _, label in batch], dtype=torch.long),
            **({"token_type_ids": encoded["token_type_ids"]} if pairs and "token_type_ids" in encoded else {}),
        }

    if shuffle and group_by_length:
        sampler = LengthGroupedBatches([len(t) for t in texts], batch_size, seed)
        return DataLoader(examples, batch_sampler=sampler, collate_fn=collate)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(examples, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate)


class LengthGroupedBatches(Sampler):
    """Shuffled batches of similar length (less padding, so less compute per example).

    Each epoch: a seeded permutation, cut into groups of ``group`` batches; each group is sorted by
    length and cut into batches; the batch order is shuffled again.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, group: int = 50):
        self.lengths = torch.tensor(list(lengths))
        self.batch_size, self.group = batch_size, group
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        perm = torch.randperm(len(self.lengths), generator=self.generator)
        batches = []
        for chunk in perm.split(self.batch_size * self.group):
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(chunk.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


def leading_special_tokens(tokenizer) -> list[int]:
    """The token ids the tokenizer puts before a text (a BOS for Gemma or Llama, none for GPT-2 or SmolLM2)."""
    probe = "The cat sat."
    plain = tokenizer(probe, add_special_tokens=False, verbose=False)["input_ids"]
    full = tokenizer(probe, verbose=False)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return list(full[:start])
    return []


def lm_blocks(text: str, tokenizer, block_size: int = 128, max_tokens: int | None = None) -> torch.Tensor:
    """LongTensor [n_blocks, block_size]: windows built the way the model expects its input — each starts with the
    special tokens the tokenizer adds before a text (BOS where it adds one; none for a tokenizer that adds none),
    followed by the next contiguous tokens of the text (the first `max_tokens` text tokens when given); a last
    partial block is dropped. The loss never predicts the BOS itself (it is only the first position's input)."""
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if max_tokens is not None:
        ids = ids[:max_tokens]
    prefix = leading_special_tokens(tokenizer)
    body = block_size - len(prefix)
    n_blocks = len(ids) // body if body > 0 else 0
    if n_blocks == 0:
        raise UserError(f"text has {len(ids)} tokens, fewer than one block of block_size={block_size}; use more text "
                        "or a smaller block")
    blocks = torch.tensor(ids[: n_blocks * body], dtype=torch.long).view(n_blocks, body)
    if prefix:
        blocks = torch.cat([torch.tensor(prefix, dtype=torch.long).expand(n_blocks, -1), blocks], dim=1)
    return blocks


def jet_batches(data, index, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """Batches of {"features" [b, P, 17] normalized, "vectors" [b, P, 4], "mask" [b, P] bool, "labels" [b]} of the
    jets ``index`` of a ``JetData``, cut to the longest jet of the batch. With ``shuffle``, random batches in a
    seeded order (a new order each epoch), as weaver draws them — not batches of similar particle counts
    (``LengthGroupedBatches``), although those pad less: ParT normalizes its inputs and its pair features with
    BatchNorm, which trains on each batch's statistics and evaluates with their running mean. Length-grouped
    batches make those statistics depend on the jets' multiplicity, so the running mean matches no training batch:
    ParT small with the pair bias, trained on 12,000 length-grouped jets, fits its training jets to 76 % with the
    batch statistics and to 59 % with the running mean it evaluates with (issue 32; docs/jets.md §2)."""
    index = np.asarray(index)
    if len(index) == 0:
        raise UserError("no jets to batch: the split is empty")
    feats = torch.from_numpy(data.normalized(index))
    vectors = torch.from_numpy(np.ascontiguousarray(data.vectors[index], dtype=np.float32))
    mask = torch.from_numpy(data.mask[index])
    labels = torch.from_numpy(data.labels[index].astype(np.int64))

    def collate(rows):
        i = torch.tensor(rows)
        n = max(1, int(mask[i].sum(1).max()))
        return {"features": feats[i, :n], "vectors": vectors[i, :n], "mask": mask[i, :n], "labels": labels[i]}

    rows = list(range(len(index)))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(rows, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate)
