"""Hugging Face `datasets` as tasks: GLUE, SuperGLUE, WikiText-2, PTB, or any ``name[/config]``.

A hub task is named like ``glue/mrpc``, ``super_glue/boolq``, ``wikitext-2-raw-v1``, ``ptb_text_only`` or any
``org/name[:config]`` (``--set data.text_column=... --set data.label_column=...`` for a data set the catalogue
below does not know), or is a folder written by ``datasets.DatasetDict.save_to_disk``. The official splits are
used: train / validation / test where they exist. GLUE's and SuperGLUE's test labels are hidden (-1), so their
*validation* split is the test split (and the validation split too), as every paper in the field reports;
the loader says so in a note.

Offline first: with ``HF_DATASETS_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``), or when the hub's host does not answer
within ``PROBE_SECONDS``, only the local cache is read, and a data set that is not there ends in one line within
seconds (not the half a minute of retries ``datasets`` spends without a network).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hyflexpim.config.hub import hub_reachable
from hyflexpim.errors import UserError

from .files import label_ids
from .types import ClassificationData, LMData

PROBE_SECONDS = 2.0
PAIR_SEPARATOR = "\x1f"  # joins the two texts of a sentence pair; classification_batches encodes them as a pair
HIDDEN_TEST_LABELS = "the official test labels are hidden: the official validation split is the test split"


@dataclass(frozen=True)
class HubEntry:
    """How one hub data set becomes a task: its repository and config, its text column(s) and label column."""

    repo: str
    config: str | None
    text: tuple[str, ...]  # one column, or two for a sentence pair
    label: str | None = "label"  # None: language modelling
    test_split: str = "test"  # "validation" where the test labels are hidden


GLUE_TEXT = {"cola": ("sentence",), "sst2": ("sentence",), "mrpc": ("sentence1", "sentence2"),
             "qqp": ("question1", "question2"), "mnli": ("premise", "hypothesis"), "qnli": ("question", "sentence"),
             "rte": ("sentence1", "sentence2"), "wnli": ("sentence1", "sentence2")}
SUPER_GLUE_TEXT = {"boolq": ("question", "passage"), "cb": ("premise", "hypothesis"), "rte": ("premise", "hypothesis"),
                   "wic": ("sentence1", "sentence2")}

CATALOGUE: dict[str, HubEntry] = {
    **{f"glue/{t}": HubEntry("nyu-mll/glue", t, cols, test_split="validation") for t, cols in GLUE_TEXT.items()},
    **{f"super_glue/{t}": HubEntry("aps/super_glue", t, cols, test_split="validation")
       for t, cols in SUPER_GLUE_TEXT.items()},
    "wikitext-2-raw-v1": HubEntry("Salesforce/wikitext", "wikitext-2-raw-v1", ("text",), None),
    "wikitext-103-raw-v1": HubEntry("Salesforce/wikitext", "wikitext-103-raw-v1", ("text",), None),
    "ptb_text_only": HubEntry("ptb-text-only/ptb_text_only", "penn_treebank", ("sentence",), None),
}
UNSUPPORTED = {"glue/stsb": "a regression task: hyflexpim classifies"}
HUB_PREFIX = "hub:"  # "hub:imdb": a bare hub name (a bare word alone is an unknown task, not a download)
HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?(:[\w.-]+)?$")
HUB_FORMS = ("glue/<task>, super_glue/<task>, wikitext-2-raw-v1, ptb_text_only, org/name[:config], hub:name[:config], "
             "or a save_to_disk folder")


def is_saved_dataset(path: str | Path) -> bool:
    """A folder written by ``Dataset(Dict).save_to_disk``."""
    p = Path(str(path)).expanduser()
    return p.is_dir() and ((p / "dataset_dict.json").is_file() or (p / "dataset_info.json").is_file())


def is_hub_task(name: str) -> bool:
    """A catalogued name, a saved data set folder, ``hub:name[:config]``, or ``org/name[:config]`` that is not a
    local path."""
    if name in CATALOGUE or name.split("/")[0] in ("glue", "super_glue") or is_saved_dataset(name):
        return True
    if name.startswith(HUB_PREFIX):
        return bool(HUB_NAME.match(name[len(HUB_PREFIX):]))
    return "/" in name and bool(HUB_NAME.match(name)) and not Path(name).expanduser().exists()


def entry_for(name: str, text_column: str | None, label_column: str | None, kind: str | None) -> HubEntry:
    """The catalogue's entry, or one made from ``name[:config]`` and the columns the user named."""
    if name in CATALOGUE:
        e = CATALOGUE[name]
        return e if text_column is None else HubEntry(e.repo, e.config, (text_column,), label_column or e.label,
                                                      e.test_split)
    family = name.split("/")[0]
    if family in ("glue", "super_glue"):
        known = sorted(k for k in CATALOGUE if k.startswith(family + "/"))
        raise UserError(f"{name!r} is not a supported {family} task; allowed: {', '.join(known)}"
                        + (f" ({UNSUPPORTED[name]})" if UNSUPPORTED.get(name) else ""))
    repo, _, config = name.removeprefix(HUB_PREFIX).partition(":")
    label = None if kind == "lm" else (label_column or "label")
    return HubEntry(repo, config or None, (text_column or "text",), label)


def offline() -> bool:
    """True when the user asked for offline mode, or the hub does not answer within PROBE_SECONDS."""
    return not hub_reachable(PROBE_SECONDS, ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


@contextmanager
def _offline_mode(on: bool):
    """``datasets`` and ``huggingface_hub`` read their offline flags at import: set both for this call only."""
    import datasets.config  # lazy: datasets is slow to import and only a hub task needs it
    import huggingface_hub.constants as hub_constants

    saved = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    if on:
        datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def load_dataset_dict(name: str, entry: HubEntry):
    """The data set's splits (a DatasetDict), from a saved folder, the local cache, or the hub."""
    try:
        import datasets  # lazy: slow to import, and only a hub task needs it
    except ImportError:
        raise UserError("hub data sets need the 'datasets' package: pip install datasets") from None
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    if is_saved_dataset(name):
        try:
            loaded = datasets.load_from_disk(str(Path(name).expanduser()))
        except Exception as exc:
            raise UserError(f"could not read the saved data set {name}: {_first_line(exc)}") from None
        return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})
    off = offline()
    try:
        with _offline_mode(off):
            return datasets.load_dataset(entry.repo, entry.config)
    except Exception as exc:
        where = "the local cache (offline: no network, or HF_DATASETS_OFFLINE set)" if off else "the hub"
        config = f" config {entry.config!r}" if entry.config else ""
        raise UserError(f"data set {name!r} ({entry.repo}{config}) could not be loaded from {where}: "
                        f"{_first_line(exc)}. Download it once with network (datasets.load_dataset), or give a "
                        "folder from save_to_disk") from None


def _column(split, column: str, name: str, which: str):
    if column not in split.column_names:
        raise UserError(f"{column!r} is not a column of the {which} split of {name!r}; columns present: "
                        f"{', '.join(split.column_names)} (--set data.text_column=... / data.label_column=...)")
    return split[column]


def _texts(split, entry: HubEntry, name: str, which: str) -> list[str]:
    cols = [[str(x) if x is not None else "" for x in _column(split, c, name, which)] for c in entry.text]
    return list(cols[0]) if len(cols) == 1 else [a + PAIR_SEPARATOR + b for a, b in zip(*cols)]


def _split_names(dd, entry: HubEntry) -> tuple[str, str, str, list[str]]:
    """(train, validation, test) split names and the notes about what stands in for what."""
    names, notes = list(dd), []
    val = next((s for s in ("validation", "validation_matched", "valid", "dev") if s in names), None)
    if "train" not in names:
        raise UserError(f"the data set has no 'train' split (splits: {', '.join(names)})")
    test = entry.test_split if entry.test_split in names else ("test" if "test" in names else None)
    if entry.test_split == "validation" and val is not None:
        test = val
        notes.append(f"{HIDDEN_TEST_LABELS} ({val})")
    if test is None and val is not None:
        test = val
        notes.append(f"no test split: the {val} split is the test split")
    if val is None and test is not None:
        val = test
        notes.append(f"no validation split: the {test} split stands in for it")
    if test is None:
        raise UserError(f"the data set has only a train split ({', '.join(names)}): save it with a test split, "
                        "or write it to a .csv/.jsonl file (a seeded split is made there)")
    return "train", val, test, notes


def load_hub(name: str, *, kind: str | None = None, text_column: str | None = None, label_column: str | None = None,
             max_examples: int | None = None, seed: int = 0) -> ClassificationData | LMData:
    """A hub (or saved) data set as a task, on its official splits; ``max_examples`` keeps at most that many rows
    (classification) or lines (language modelling) per split. ``seed`` is accepted for symmetry: official splits
    are not re-drawn."""
    entry = entry_for(name, text_column, label_column, kind)
    dd = load_dataset_dict(name, entry)
    train, val, test, notes = _split_names(dd, entry)
    lm = entry.label is None or kind == "lm"
    if not lm and entry.label not in dd[train].column_names and kind is None:
        lm = True  # a text-only data set without a label column: language modelling
    display = entry.repo.split("/")[-1] if not is_saved_dataset(name) else Path(name).name
    display = name.replace("/", "_") if name in CATALOGUE else display
    if lm:
        parts = []
        for which in (train, val, test):
            lines = _texts(dd[which], entry, name, which)[:max_examples]
            parts.append("\n".join(x for x in lines))
            if not parts[-1].strip():
                raise UserError(f"the {which} split of {name!r} holds no text in {entry.text[0]!r}")
        data = LMData(*parts, name=display)
        data.notes = notes
        return data
    test_labels = dd[test][entry.label] if entry.label in dd[test].column_names else []
    if test != val and set(test_labels) <= {-1, None}:  # labels hidden, as GLUE's are
        notes.append(f"{HIDDEN_TEST_LABELS} ({val})")
        test = val
    rows = []
    for which in (train, val, test):
        texts = _texts(dd[which], entry, name, which)
        labels = list(_column(dd[which], entry.label, name, which))
        keep = [i for i, y in enumerate(labels) if y is not None and y != -1 and str(y).strip() != ""][:max_examples]
        if not keep:
            raise UserError(f"the {which} split of {name!r} has no labelled rows in {entry.label!r}")
        rows.append(([texts[i] for i in keep], [labels[i] for i in keep]))

    all_labels = pd.Series([y for _, ys in rows for y in ys])
    ids, names = label_ids(all_labels)
    feature = dd[train].features.get(entry.label)
    if getattr(feature, "names", None) and all(isinstance(y, int) for y in all_labels):
        names = [feature.names[int(n)] for n in names]  # ClassLabel: the data set's own names
    out, start = [], 0
    for texts, labels in rows:
        out += [texts, ids[start:start + len(labels)]]
        start += len(labels)
    if len(names) < 2:
        raise UserError(f"data set {name!r} has one class only: a classifier needs at least 2 classes")
    data = ClassificationData(*out, label_names=names, name=display)
    data.notes = notes
    return data
