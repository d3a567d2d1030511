"""Does a ParT checkpoint evaluate as it trained? Its accuracy with BatchNorm's running mean (how it is evaluated)
against its accuracy with each batch's own statistics (how it trained), on length-grouped batches of 64 jets (the
order ``jet_batches`` drew training batches in before issue 32) and on random batches of 64 (the order now).

A model trained on length-grouped batches learns each multiplicity group's BatchNorm statistics; the running mean
matches none of them, and the evaluated accuracy falls far below the batch-statistics one (docs/jets.md §2). A model
trained on random batches shows the same accuracy either way, up to the scatter of random batches.

    python scripts/part_batchnorm_check.py --model ~/.cache/hyflexpim/part/part-small-v2.pt
    python scripts/part_batchnorm_check.py --model runs/study/small-pairon-12000/model.pt --jets runs/jets-17k

Prints per split (train, test): accuracy % with the running mean, with the batch statistics of length-grouped
batches, and of random batches.
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch.utils.data import DataLoader

from hyflexpim.data import jet_batches
from hyflexpim.data.batches import LengthGroupedBatches
from hyflexpim.data.jets import load_jets
from hyflexpim.errors import UserError
from hyflexpim.models.part import load_part


def accuracy(model, data, index, batches: str, seed: int = 1) -> float:
    """``batches``: "running" (evaluation), "grouped" or "random" (BatchNorm on each batch's statistics)."""
    base = jet_batches(data, index, 64, shuffle=batches == "random", seed=seed)
    if batches == "grouped":
        sampler = LengthGroupedBatches(data.mask[index].sum(1).tolist(), 64, seed)
        base = DataLoader(list(range(len(index))), batch_sampler=sampler, collate_fn=base.collate_fn)
    model.eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.train(batches != "running")
    right = total = 0
    with torch.no_grad():
        for b in base:
            labels = b.pop("labels")
            right += int((model(**b).logits.argmax(1) == labels).sum())
            total += len(labels)
    for m, (mean, var, n) in zip(norms, saved):  # batch statistics update the running ones: put them back
        m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(n)
        m.eval()
    return 100 * right / total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a ParT checkpoint (hyflexpim or weaver layout)")
    ap.add_argument("--jets", default="jets", help="the jets it trained on: 'jets' (shipped sample) or a folder")
    ap.add_argument("--train-jets", type=int, default=None, help="the first N training jets (the study's size)")
    args = ap.parse_args(argv)
    try:
        data = load_jets(args.jets)
        model = load_part(args.model, data.num_labels)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for split in ("train", "test"):
        index = data.split_indices(split)
        if split == "train" and args.train_jets:
            index = index[:args.train_jets]
        row = {b: accuracy(model, data, index, b) for b in ("running", "grouped", "random")}
        print(f"{split:5s} {len(index):6d} jets: running mean {row['running']:.1f} %, batch statistics of "
              f"length-grouped batches {row['grouped']:.1f} %, of random batches {row['random']:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
