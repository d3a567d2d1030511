"""Cache keys: every cached model of a run folder remembers the settings that made it (``models/<stage>.key.json``).

A re-run whose settings differ for a stage (task, data options, seed, a step's own config, the package
version) recomputes that model and every later one — their evaluations, importance scores, plans and
codebooks are dropped — and says which field changed. A step command that may not retrain it refuses in one
line instead and drops nothing. A model without a key file (made before keys were kept) is adopted.
"""

from __future__ import annotations

import json

from hyflexpim.atomic import write_atomic
from hyflexpim.errors import UserError
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.workspace import Workspace

# The cached models in the order they are made, and the variants (evaluations, importance, plans) each feeds.
STAGES = (("finetuned", ("fp32", "original", "svd", "redistributed")), ("decomposed", ("svd", "redistributed")),
          ("redistributed", ("redistributed",)))


def step_key(c: RunConfig, stage: str) -> dict:
    """Everything the cached model ``stage`` depends on."""
    from hyflexpim import __version__

    key = {"version": __version__, "model": c.model, "task": c.task, "task_kind": c.task_kind,
           "data": c.data.model_dump(mode="json"), "seed": c.seed,
           "pre_finetune": c.pre_finetune.model_dump(mode="json") if c.pre_finetune else None}
    if c.precision != "fp32":  # (fp32: the key of a model made before the field existed)
        key["precision"] = c.precision
    if stage == "finetuned":
        return key
    key["decompose"] = c.decompose.model_dump(mode="json")
    if stage == "decomposed":
        return key
    key["redistribute"] = c.redistribute.model_dump(mode="json")
    key["noise_aware"] = c.noise_aware.model_dump(mode="json")
    if c.concentration.strength:  # (off: the key of a model made before the field existed)
        key["concentration"] = c.concentration.model_dump(mode="json")
    if c.noise_aware.enabled:
        key["hardware"] = c.hardware.model_dump(mode="json")
    return key


def first_difference(have, want, path: str = "") -> str:
    """The first field that differs, as 'a.b (old then, new now)'."""
    if isinstance(have, dict) and isinstance(want, dict):
        for k in list(want) + [k for k in have if k not in want]:
            if have.get(k, "<unset>") != want.get(k, "<unset>"):
                return first_difference(have.get(k, "<unset>"), want.get(k, "<unset>"), f"{path}.{k}" if path else k)
    return f"{path or 'settings'} ({have!r} then, {want!r} now)"


def _key_path(ws: Workspace, stage: str):
    return ws.path("models", f"{stage}.key.json")


def remember(ws: Workspace, config: RunConfig, stage: str) -> None:
    if not ws.writes:
        return
    write_atomic(_key_path(ws, stage), json.dumps(step_key(config, stage), indent=1, sort_keys=True))


def _drop(ws: Workspace, stages) -> None:
    if not ws.writes:  # a follower process: the main one drops the files
        return
    variants = set()
    for stage, feeds in stages:
        variants.update(feeds)
        for f in (ws.path("models", f"{stage}.safetensors"), _key_path(ws, stage)):
            f.unlink(missing_ok=True)
    ws.path("models", "learned_ranks.json").unlink(missing_ok=True)
    for folder in ("importance", "plans", "attention"):
        for f in ws.path(folder).glob("*") if ws.path(folder).is_dir() else []:
            stem = f.name.removeprefix("codebooks-")
            if f.is_file() and any(stem.startswith(v + "-") for v in variants):
                f.unlink()
    ws.forget(variants)


def check_keys(ws: Workspace, config: RunConfig, may_train: set | None, say, recompute: bool = True) -> None:
    """Recompute (drop) the first stale model and everything after it; ``may_train`` not None: the step command
    may train only those steps, and a stale model it cannot retrain is refused; ``recompute`` False
    (``--no-recompute``): every stale model is refused, naming the field that changed."""
    for i, (stage, _) in enumerate(STAGES):
        path = _key_path(ws, stage)
        if not path.exists():
            continue
        try:
            have = json.loads(path.read_text())
        except (OSError, ValueError):
            have = {}
        want = step_key(config, stage)
        if have == want:
            continue
        changed = f"models/{stage}: {first_difference(have, want)} changed since it was made"
        retrain = {"redistribute"} | ({"pre-finetune"} if stage == "finetuned" else set())
        if not recompute:
            raise UserError(f"{changed}; --no-recompute keeps it: give the settings it was made with, or drop "
                            "--no-recompute to recompute it")
        if may_train is not None and not retrain <= may_train:
            raise UserError(f"{changed}; run `hyflexpim run` to recompute it, or give the settings it was made with")
        say(f"{changed}; it and every later step are recomputed")
        _drop(ws, STAGES[i:])
        return
