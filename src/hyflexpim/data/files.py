"""A user's own data: a table of (text, label) rows, or a plain-text file for language modelling."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hyflexpim.boundary import (
    MAX_DATA_BYTES,
    UTF16_BOMS,
    _kind_of,
    check_file,
    decode_text,
    read_bytes,
    read_decompressed,
)
from hyflexpim.errors import UserError

from .split import DEFAULT_FRACTIONS, check_split_options, split_classification, split_documents
from .types import ClassificationData, LMData

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
TEXT_SUFFIXES = (".txt",)
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")  # csv/tsv/jsonl may be compressed
ACCEPTED_FILES = "a .csv, .tsv, .jsonl or .parquet file (classification) or a .txt file (language modelling)"


def file_suffix(path: str | Path) -> str:
    """The data type suffix of `path`, lower case, ignoring a compression suffix: 'x.csv.bz2' -> '.csv'."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _existing_file(path: str | Path, allowed: Sequence[str]) -> Path:
    if Path(path).is_symlink() or Path(path).exists():  # a folder, a pipe, a device or a link loop: named as such
        check_file(path, "data file")
    path = Path(path)
    if file_suffix(path) not in allowed:
        raise UserError(f"data file {path} has type {file_suffix(path) or '(none)'!r}; allowed: {', '.join(allowed)}")
    if not path.exists():
        raise UserError(f"data file {path} does not exist")
    if path.stat().st_size == 0:
        raise UserError(f"data file {path} is empty")
    return path


def _contents(path: Path) -> bytes:
    """The file's bytes, decompressed when its suffix says so, bounded either way (boundary.MAX_DATA_BYTES)."""
    if Path(path).suffix.lower() in COMPRESSION_SUFFIXES:
        return read_decompressed(path, "data file")
    return read_bytes(path, "data file", MAX_DATA_BYTES)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL or Parquet file (chosen by suffix, compressed or not) into a DataFrame."""
    path = _existing_file(path, TABLE_SUFFIXES)
    suffix = file_suffix(path)
    raw = _contents(path)
    if suffix != ".parquet" and (raw.startswith(UTF16_BOMS) or b"\x00" in raw[:4096]):
        raise UserError(f"data file {path} is not UTF-8 text ({_kind_of(raw)}): save it as UTF-8")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(raw))
        if suffix == ".jsonl":
            return pd.read_json(io.BytesIO(raw), lines=True, dtype=False)  # dtype=False: keep the JSON types
        return pd.read_csv(io.BytesIO(raw), sep="\t" if suffix == ".tsv" else ",")
    except (ValueError, OSError, pd.errors.ParserError) as exc:  # EmptyDataError and ArrowInvalid are ValueErrors
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"could not read data file {path} as {suffix[1:].upper()}: {first_line}") from None


def _column(table: pd.DataFrame, column: str, role: str, path: Path) -> pd.Series:
    if column not in table.columns:
        present = ", ".join(repr(str(c)) for c in table.columns) or "(none)"
        raise UserError(f"{role} {column!r} is not a column of {path}; columns present: {present}")
    return table[column]


def label_ids(values: pd.Series) -> tuple[list[int], list[str]]:
    """Map labels to contiguous ids 0..k-1. Integer (or whole-number float, or bool) labels keep their
    natural order; any other labels are compared as strings, in sorted order. Returns (ids, names)."""
    if pd.api.types.is_float_dtype(values) and (values % 1 == 0).all():
        values = values.astype("int64")
    if not (pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values)):
        values = values.astype(str).str.strip()
    names = sorted(values.unique())
    index = {name: i for i, name in enumerate(names)}
    return [index[v] for v in values], [str(name) for name in names]


def _dataset_name(path: str | Path) -> str:
    return Path(path).name.split(".")[0]


def load_classification(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    *,
    validation_path: str | Path | None = None,
    test_path: str | Path | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    max_examples: int | None = None,
    name: str | None = None,
) -> ClassificationData:
    """Text classification data from a CSV/TSV/JSONL/Parquet file with any number of classes.

    Rows with an empty text or a missing label are dropped. With `validation_path` and `test_path`
    the three files are used as the splits as they are; otherwise `path` is split by `fractions`
    and `seed`. `max_examples` keeps at most that many rows per split.
    """
    name = name or _dataset_name(path)
    check_split_options(fractions, seed, max_examples)
    if (validation_path is None) != (test_path is None):
        raise UserError("give both validation_path and test_path (your own split), or neither (a seeded split)")
    paths = [Path(p) for p in (path, validation_path, test_path) if p is not None]
    frames, notes = [], []
    for p in paths:
        table = read_table(p)
        text = _column(table, text_column, "text_column", p)
        label = _column(table, label_column, "label_column", p)
        no_label = label.isna() | (label.astype(str).str.strip() == "")
        no_text = text.isna() | (text.astype(str).str.strip() == "")
        keep = ~no_label & ~no_text
        frames.append(pd.DataFrame({"text": text[keep].astype(str), "label": label[keep]}))
        if len(frames[-1]) == 0:
            raise UserError(
                f"dataset {p.name!r} has no rows after cleaning: rows need a non-empty {text_column!r} and a "
                f"{label_column!r}"
            )
        if (~keep).any():
            notes.append(f"dropped {int((~keep).sum())} of {len(table)} rows of {p.name}: {int(no_label.sum())} with "
                         f"an empty {label_column!r}, {int((no_text & ~no_label).sum())} more with an empty "
                         f"{text_column!r}")
    ids, names = label_ids(pd.concat([f["label"] for f in frames], ignore_index=True))
    if len(names) < 2:
        raise UserError(f"dataset {name!r} has one class only ({names[0]!r} in {label_column!r}): a classifier needs "
                        "at least 2 classes")
    texts = [t for f in frames for t in f["text"]]
    if len(frames) == 1:
        data = split_classification(texts, ids, names, name, fractions, seed, max_examples)
    else:
        parts, start = [], 0
        for f in frames:
            end = start + len(f)
            parts += [texts[start:end][:max_examples], ids[start:end][:max_examples]]
            start = end
        data = ClassificationData(*parts, label_names=names, name=name)
    if len(set(data.train_labels)) < 2:
        raise UserError(f"the training split of {name!r} holds one class only: a classifier needs at least 2 classes "
                        "to learn from (more rows, or another split seed)")
    data.notes = notes
    return data


def _documents(path: Path) -> list[str]:
    """Paragraphs (blank-line separated) of a text file; its lines when it has fewer than three paragraphs."""
    text = decode_text(_contents(path), "data file", path)
    documents = [p.strip() for p in text.split("\n\n") if p.strip()]
    if len(documents) < 3:
        documents = [line.strip() for line in text.splitlines() if line.strip()]
    return documents


def load_lm_text(
    path: str | Path,
    *,
    validation_path: str | Path | None = None,
    test_path: str | Path | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    max_examples: int | None = None,
    name: str | None = None,
) -> LMData:
    """Language-modelling text from a UTF-8 .txt file, split by paragraph (seeded), or from your own
    three split files. `max_examples` keeps at most that many paragraphs per split."""
    name = name or _dataset_name(path)
    check_split_options(fractions, seed, max_examples)
    if (validation_path is None) != (test_path is None):
        raise UserError("give both validation_path and test_path (your own split), or neither (a seeded split)")
    paths = [_existing_file(p, TEXT_SUFFIXES) for p in (path, validation_path, test_path) if p is not None]
    documents = [_documents(p) for p in paths]
    for p, docs in zip(paths, documents):
        if not docs:
            raise UserError(f"dataset {p.name!r} has no text after cleaning: {p} holds only whitespace")
    if len(paths) == 1:
        return split_documents(documents[0], name, fractions, seed, max_examples)
    return LMData(*("\n\n".join(docs[:max_examples]) for docs in documents), name=name)
