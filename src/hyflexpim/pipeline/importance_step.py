"""The importance step: each (model variant, scorer)'s importance scores, cached under ``importance/``, and how
concentrated they are (the share the top 5/10/20 % of each matrix's units hold)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from hyflexpim.algo.importance import SCORERS, Importance, concentration, score_importance
from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_tensors
from hyflexpim.errors import UserError
from hyflexpim.pipeline.model_steps import model_of

if TYPE_CHECKING:
    from hyflexpim.pipeline.run import Run


def importance(run: Run, variant: str, scorer: str) -> Importance:
    run.check_keys()

    path = run.files.importance(variant, scorer)
    if path.exists():
        data = load_tensors(path, "importance scores")
        try:
            return Importance(data["scorer"], data["unit"], data["scores"], data["batches"])
        except KeyError:
            raise UserError(f"importance scores {path} lack a field hyflexpim writes: delete the file and run "
                            "again") from None
    model = model_of(run, variant)
    needs = SCORERS.get(scorer, "importance.scorer").needs_batches
    batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 2) if needs else None
    imp = score_importance(model, scorer, batches, run.config.importance.batches, progress=run.progress)
    run.ws.save_tensors({"scorer": imp.scorer, "unit": imp.unit, "scores": imp.scores, "batches": imp.batches},
                        path)
    _concentration(run, variant, imp)
    return imp


def _concentration(run: Run, variant: str, imp: Importance) -> None:
    share = concentration(imp)
    if run.is_main:
        write_atomic(run.files.concentration(variant, imp.scorer),
                     json.dumps(share, indent=1))
    run.say(f"importance ({variant}, {imp.scorer}): the top 5/10/20 % of each matrix's {imp.unit}s hold "
            + " / ".join(f"{100 * v:.0f}" for v in share.values()) + " % of it")
