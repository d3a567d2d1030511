"""One entry point: a packaged task's short name or a path to the user's own file."""

from __future__ import annotations

import inspect
from pathlib import Path

from hyflexpim.errors import UserError

from .files import ACCEPTED_FILES, TABLE_SUFFIXES, TEXT_SUFFIXES, file_suffix, load_classification, load_lm_text
from .hub import HUB_FORMS, is_hub_task, load_hub
from .packaged import PACKAGED_TASKS
from .types import ClassificationData, LMData

KINDS = ("classification", "lm")


def _call(loader, what: str, *args, **options):
    """Call `loader`, turning an unknown option into a UserError that lists the allowed ones."""
    parameters = list(inspect.signature(loader).parameters.values())[len(args):]
    allowed = [p.name for p in parameters]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"option {unknown[0]!r} is not accepted for {what}; allowed: {', '.join(allowed)}")
    return loader(*args, **options)


def load_task(name_or_path: str | Path, kind: str | None = None, **options) -> ClassificationData | LMData:
    """Load "rotten_tomatoes", "wikipedia", a file: .csv/.tsv/.jsonl/.parquet -> classification,
    .txt -> language modelling ("lm"), or a hub data set (``glue/mrpc``, ``wikitext-2-raw-v1``, ``org/name[:config]``,
    a save_to_disk folder: hyflexpim.data.hub, official splits). `kind`, when given, must agree. `options` go to the
    loader (fractions, seed, max_examples; for files also validation_path, test_path, name, and for
    tables and hub data sets text_column, label_column)."""
    if kind is not None and kind not in KINDS:
        raise UserError(f"task kind {kind!r} is not allowed; allowed: {', '.join(KINDS)}")
    if str(name_or_path) in PACKAGED_TASKS:
        task_kind, loader = PACKAGED_TASKS[str(name_or_path)]
        if kind not in (None, task_kind):
            raise UserError(f"task {str(name_or_path)!r} is a {task_kind} task, not {kind}")
        return _call(loader, f"task {str(name_or_path)!r}", **options)
    suffix = file_suffix(name_or_path)
    if suffix in TABLE_SUFFIXES + TEXT_SUFFIXES:
        file_kind = "classification" if suffix in TABLE_SUFFIXES else "lm"
        if kind not in (None, file_kind):
            raise UserError(f"{suffix} files hold {file_kind} data, not {kind}; allowed: {ACCEPTED_FILES}")
        loader = load_classification if file_kind == "classification" else load_lm_text
        return _call(loader, f"{suffix} files", name_or_path, **options)
    if is_hub_task(str(name_or_path)):
        data = _call(load_hub, f"hub data set {str(name_or_path)!r}", str(name_or_path), kind=kind, **options)
        data_kind = "lm" if isinstance(data, LMData) else "classification"
        if kind not in (None, data_kind):
            raise UserError(f"hub data set {str(name_or_path)!r} is a {data_kind} task, not {kind}")
        return data
    raise UserError(
        f"unknown task {str(name_or_path)!r}: use a packaged task ({', '.join(PACKAGED_TASKS)}), {ACCEPTED_FILES}, "
        f"or a hub data set ({HUB_FORMS})"
    )
