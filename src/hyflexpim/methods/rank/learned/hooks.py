"""The ``learned`` policy's hooks into the redistribution step: soft thresholds on every decomposed matrix before
the fine-tune, hard truncation after it (the learned ranks written to ``models/learned_ranks.json``), the saved
model's shapes restored before it is reloaded, and the report's figure of the learned ranks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyflexpim.algo.rank import RankHooks
from hyflexpim.algo.soft_rank import SoftRank, enable_soft_rank, truncate_to
from hyflexpim.artefacts import RunFolder
from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json
from hyflexpim.models.discover import find_matrices
from hyflexpim.report.rank_plots import plot_learned_ranks


class LearnedRankHooks(RankHooks):
    def restore(self, model: Any, files: RunFolder) -> None:
        if files.learned_ranks.exists():
            truncate_to(model, load_json(files.learned_ranks, "learned ranks")["ranks"])  # the saved model's shapes

    def before_redistribution(self, model: Any, decompose: Any) -> tuple[SoftRank, dict[str, Any]]:
        roles = {m.name: m.role for m in find_matrices(model)}
        soft = enable_soft_rank(model, decompose.soft_rank, decompose.budget, roles)
        return soft, {"regularizer": soft.penalty, "on_step": soft.anneal,
                      "extra": (soft.parameters(), decompose.soft_rank.lr_scale)}

    def after_redistribution(self, model: Any, state: Any, decompose: Any, files: RunFolder,
                             say: Callable[[str], None], write: bool) -> None:
        soft: SoftRank = state
        ranks = soft.finish(model)
        achieved = sum(r * sum(soft.layers[n].hyflexpim_shape) for n, r in ranks.items()) / soft.dense
        if write:
            write_atomic(files.learned_ranks, json.dumps({"budget": decompose.budget, "achieved": achieved,
                                                          "ranks": ranks}, indent=1))
        say(f"learned ranks: {achieved:.1%} of the decomposed matrices' parameters kept "
            f"(budget {decompose.budget:.0%}); ranks {min(ranks.values())}..{max(ranks.values())}")
        if abs(achieved - decompose.budget) > 0.02 * decompose.budget:
            say(f"warning: the learned ranks missed the budget by more than 2 % ({achieved:.1%} kept); a larger "
                "decompose.soft_rank.penalty or more fine-tuning steps move it closer")

    def artefacts(self, files: RunFolder) -> list[Path]:
        return [files.learned_ranks]

    def figures(self, files: RunFolder, plan: Any, title: str) -> list[Path]:
        """The learned rank share of every matrix (layer × role), the paper's hard-threshold rank marked; the
        matrices' layers, roles and shapes from the plan (no model is loaded)."""
        if not files.learned_ranks.exists():
            return []
        data = load_json(files.learned_ranks, "learned ranks")
        matrices = {m.name: (m.layer, m.role, tuple(m.shape)) for m in plan.matrices}
        title = (f"{title}: learned ranks, {data['achieved']:.1%} of the parameters "
                 f"(budget {data['budget']:.0%})")
        return [plot_learned_ranks(data["ranks"], matrices, files.learned_ranks_figure, data["budget"], title)]


HOOKS = LearnedRankHooks()
