"""Jet batches for ParT (data.batches.jet_batches): training batches are random samples of the jets, as weaver
draws them, so that the BatchNorm statistics of each training batch scatter around the running mean ParT evaluates
with (issue 32: length-grouped batches trained a pair-bias ParT to 76 % with batch statistics and 59 % with the
running mean); a jet's logits do not depend on how much padding its batch has."""

import numpy as np
import pytest

pytest.importorskip("weaver")
import torch

from hyflexpim.data import jet_batches
from hyflexpim.data.jets import load_jets
from hyflexpim.models.part import build_part


def test_training_batches_are_random_samples_not_grouped_by_multiplicity():
    data = load_jets("jets")
    index = data.split_indices("train")
    counts = data.mask[index].sum(1).astype(float)
    bs = 64
    means = [float(b["mask"].sum(1).float().mean()) for b in jet_batches(data, index, bs, shuffle=True, seed=3)]
    assert sum(len(b["labels"]) for b in jet_batches(data, index, bs, shuffle=True, seed=3)) == len(index)
    # random batches: the batch means scatter by std/sqrt(bs) (finite-population correction ignored: it only
    # shrinks it); length-grouped ones scatter by about the whole std (ratio about 8 here)
    ratio = np.std(means) / (counts.std() / np.sqrt(bs))
    assert 0.5 < ratio < 1.6, ratio
    again = [b["labels"].tolist() for b in jet_batches(data, index, bs, shuffle=True, seed=3)]
    loader = jet_batches(data, index, bs, shuffle=True, seed=3)
    first, second = ([b["labels"].tolist() for b in loader] for _ in range(2))
    assert first == again and first != second  # seeded, a new order each epoch


@pytest.mark.parametrize("pair_bias", [True, False])
def test_a_jets_logits_do_not_depend_on_the_padding_of_its_batch(pair_bias):
    data = load_jets("jets")
    index = data.split_indices("test")[:24]
    model = build_part("small", data.num_labels, seed=0,
                       **({} if pair_bias else {"pair_embed_dims": None})).eval()
    with torch.no_grad():
        whole = torch.cat([model(**{k: v for k, v in b.items() if k != "labels"}).logits
                           for b in jet_batches(data, index, 24)])
        alone = torch.cat([model(**{k: v for k, v in b.items() if k != "labels"}).logits
                           for b in jet_batches(data, index, 1)])
    lengths = data.mask[index].sum(1)
    assert lengths.min() < lengths.max()  # the batch of 24 pads most of its jets
    torch.testing.assert_close(alone, whole, atol=1e-5, rtol=1e-5)
