"""A fixed, seeded train/validation/test split, identical across runs and machines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hyflexpim.errors import UserError

from .types import ClassificationData, LMData

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def check_split_options(fractions: Sequence[float], seed: int, max_examples: int | None) -> None:
    if len(fractions) != 3 or any(not f > 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise UserError(
            f"split fractions {tuple(fractions)} are not allowed: give three numbers > 0 "
            "(train, validation, test) that sum to 1, e.g. (0.8, 0.1, 0.1)"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"split seed {seed!r} is not allowed: give an integer >= 0")
    if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, int)
                                     or max_examples < 1):
        raise UserError(f"max_examples {max_examples!r} is not allowed: give an integer >= 1 or leave it unset")


def split_indices(
    n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0, name: str = "dataset"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, validation and test: a numpy default_rng(seed) permutation cut by `fractions`."""
    check_split_options(fractions, seed, None)
    if n == 0:
        raise UserError(f"dataset {name!r} has no rows/text after cleaning")
    n_validation = int(n * fractions[1] + 0.5)
    n_test = int(n * fractions[2] + 0.5)
    n_train = n - n_validation - n_test
    if min(n_train, n_validation, n_test) < 1:
        raise UserError(
            f"dataset {name!r} has too few rows ({n}) for a train/validation/test split of {tuple(fractions)}: "
            "every split needs at least one row; add data or give your own split files"
        )
    order = np.random.default_rng(seed).permutation(n)
    return order[:n_train], order[n_train : n_train + n_validation], order[n_train + n_validation :]


def split_classification(
    texts: Sequence[str],
    labels: Sequence[int],
    label_names: list[str],
    name: str,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    max_examples: int | None = None,
) -> ClassificationData:
    """Split (texts, labels) with `split_indices`; keep at most `max_examples` per split."""
    check_split_options(fractions, seed, max_examples)
    parts = []
    for idx in split_indices(len(texts), fractions, seed, name):
        idx = idx[:max_examples]
        parts += [[texts[i] for i in idx], [int(labels[i]) for i in idx]]
    return ClassificationData(*parts, label_names=list(label_names), name=name)


def split_documents(
    documents: Sequence[str],
    name: str,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    max_examples: int | None = None,
) -> LMData:
    """Split whole documents (articles, paragraphs); each split is its documents joined by blank lines."""
    check_split_options(fractions, seed, max_examples)
    parts = ["\n\n".join(documents[i] for i in idx[:max_examples])
             for idx in split_indices(len(documents), fractions, seed, name)]
    return LMData(*parts, name=name)
