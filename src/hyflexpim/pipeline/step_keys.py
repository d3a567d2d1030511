"""Cache keys: every cached model of a run folder remembers the settings that made it (``models/<stage>.key.json``).

A re-run whose settings differ for a stage (task, data options, seed, a step's own config, the package
version) recomputes that model and every later one — their evaluations, importance scores, plans and
codebooks are dropped — and says which field changed. A step command that may not retrain it refuses in one
line instead and drops nothing. A model without a key file (made before keys were kept) is adopted.
"""

from __future__ import annotations

import json

from hyflexpim.algo.rank import RANK_POLICIES
from hyflexpim.artefacts import RunFolder
from hyflexpim.atomic import write_atomic
from hyflexpim.errors import UserError
from hyflexpim.pipeline import steps
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.steps import MODEL_STEPS
from hyflexpim.pipeline.workspace import Workspace

# The cached models in the order they are made, and the variants (evaluations, importance, plans) each feeds:
# from the declared steps (``pipeline.steps``).
STAGES = tuple((s.model, s.feeds) for s in MODEL_STEPS)
_STEP_OF = {s.model: s.name for s in MODEL_STEPS}


def step_key(c: RunConfig, stage: str) -> dict:
    """Everything the cached model ``stage`` depends on: derived from the declared reads of its step and the steps
    before it (``pipeline.steps.key``)."""
    return steps.key(c, _STEP_OF[stage])


def first_difference(have, want, path: str = "") -> str:
    """The first field that differs, as 'a.b (old then, new now)'."""
    if isinstance(have, dict) and isinstance(want, dict):
        for k in list(want) + [k for k in have if k not in want]:
            if have.get(k, "<unset>") != want.get(k, "<unset>"):
                return first_difference(have.get(k, "<unset>"), want.get(k, "<unset>"), f"{path}.{k}" if path else k)
    return f"{path or 'settings'} ({have!r} then, {want!r} now)"


def _key_path(ws: Workspace, stage: str):
    return RunFolder(ws.root).model_key(stage)


def remember(ws: Workspace, config: RunConfig, stage: str) -> None:
    if not ws.writes:
        return
    write_atomic(_key_path(ws, stage), json.dumps(step_key(config, stage), indent=1, sort_keys=True))


def _drop(ws: Workspace, stages) -> None:
    if not ws.writes:  # a follower process: the main one drops the files
        return
    variants = set()
    folder = RunFolder(ws.root)
    for stage, feeds in stages:
        variants.update(feeds)
        for f in (folder.model(stage), folder.model_key(stage)):
            f.unlink(missing_ok=True)
    for name in RANK_POLICIES:  # what any rank policy wrote beside its model (e.g. learned's ranks)
        for f in RANK_POLICIES.get(name).hooks.artefacts(folder):
            f.unlink(missing_ok=True)
    for f in folder.variant_files(variants):
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
        retrain = {s.name for s in MODEL_STEPS[i:] if s.trains}  # the training steps that remaking it reruns
        if not recompute:
            raise UserError(f"{changed}; --no-recompute keeps it: give the settings it was made with, or drop "
                            "--no-recompute to recompute it")
        if may_train is not None and not retrain <= may_train:
            raise UserError(f"{changed}; run `hyflexpim run` to recompute it, or give the settings it was made with")
        say(f"{changed}; it and every later step are recomputed")
        _drop(ws, STAGES[i:])
        return
