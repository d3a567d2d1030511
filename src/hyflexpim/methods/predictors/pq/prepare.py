"""The PQ predictor's preparation hook: a run's ``pq`` attention without codebooks gets them fitted once on the
variant's keys (training split, k-means) and stored in the run folder (``attention/``); the pipeline calls it through
the registration (``METHOD.prepare``), never by name."""

from __future__ import annotations

from typing import Any


def fit_for_run(run: Any, variant: str, hw: Any) -> Any:
    """``hw`` with ``attention.codebooks`` set: the run folder's codebooks of ``variant``, fitted if missing."""
    a = hw.attention
    if a.codebooks is not None:
        return hw
    path = run.files.codebooks(variant, a.subspaces, a.centroids)
    if not path.exists():
        from hyflexpim.methods.predictors.pq.codebooks import fit_pq_codebooks, save_codebooks

        batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 3)
        books = run.timed(f"fitted PQ codebooks (M={a.subspaces}, K={a.centroids}) for the {variant} model",
                          lambda: fit_pq_codebooks(run.model(variant), batches, a.subspaces, a.centroids,
                                                   seed=run.config.seed))
        save_codebooks(books, path)
    return hw.model_copy(update={"attention": a.model_copy(update={"codebooks": str(path)})})
