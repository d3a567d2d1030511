"""Confidence intervals that cover both the test set's sampling error and the noise draw.

An evaluation record may carry its per-example outcome (``sim.evaluate.per_example``): for accuracy
one bit per test example (``"correct"``, packed, base64), for perplexity each sequence's summed NLL
and token count (``"nll"``, ``"tokens"``). A point of a curve is the records of its noise seeds over
the same test examples, an (S seeds × N examples) table. The **paired bootstrap** draws, B times, N
examples and S seeds with replacement and recomputes the metric; the 2.5 / 97.5 % percentiles are
the 95 % interval. A difference between two points (two curves at one SLC rate, or a point and the
INT8 reference) uses the *same* example draw for both sides, and the same seed draw when both were
evaluated on the same seeds: it is resolved when its interval excludes zero.

On 640 test examples one accuracy's binomial standard error is about ±1.7 points, more than the
spread over noise seeds of most points; the seed spread alone understates the uncertainty.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
DRAWS = 2000


def unpack_correct(text: str, n: int) -> np.ndarray:
    """``sim.evaluate.record_fields``'s packed bits back to one boolean per test example."""
    return np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))[:n].astype(bool)


def has_examples(rec: dict) -> bool:
    return ("correct" in rec and "n_examples" in rec) or ("nll" in rec and "tokens" in rec)


@dataclass
class Point:
    """One curve point: per-seed per-example scores (S, N), per-example weights (N), the metric's transform."""

    scores: np.ndarray
    weights: np.ndarray
    seeds: tuple
    metric: str

    def value(self, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
        ratio = scores / weights
        return np.exp(ratio) if self.metric == "perplexity" else ratio


def point(records: list[dict]) -> Point | None:
    """The (seeds × examples) table of one point's records; None when any record lacks its per-example outcome or
    the records do not share one test set."""
    if not records or not all(has_examples(r) for r in records):
        return None
    metric = records[0]["metric"]
    if "correct" in records[0]:
        n = records[0]["n_examples"]
        if any(r.get("n_examples") != n or "correct" not in r for r in records):
            return None
        scores = np.stack([unpack_correct(r["correct"], n).astype(np.float64) for r in records])
        weights = np.ones(n)
    else:
        tokens = np.asarray(records[0]["tokens"], dtype=np.float64)
        if any(len(r.get("nll", ())) != len(tokens) for r in records):
            return None
        scores = np.stack([np.asarray(r["nll"], dtype=np.float64) for r in records])
        weights = tokens
    return Point(scores, weights, tuple(r.get("seed") for r in records), metric)


def _draws(n: int, s: int, rng: np.random.Generator, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap counts: examples (draws, n) and seeds (draws, s), each row summing to n and s."""
    ex = rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(np.float64)
    sd = rng.multinomial(s, np.full(s, 1.0 / s), size=draws).astype(np.float64) / s
    return ex, sd


def _replicates(p: Point, ex: np.ndarray, sd: np.ndarray) -> np.ndarray:
    per_example = sd @ p.scores  # (draws, n): the seed-resampled mean score of every example
    return p.value((per_example * ex).sum(1), ex @ p.weights)


def interval(p: Point, draws: int = DRAWS, seed: int = 0) -> tuple[float, float]:
    """95 % paired-bootstrap interval of one point's metric, over test examples × noise seeds."""
    rng = np.random.default_rng(seed)
    ex, sd = _draws(p.scores.shape[1], p.scores.shape[0], rng, draws)
    rep = _replicates(p, ex, sd)
    lo, hi = np.quantile(rep, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def difference(a: Point, b: Point, draws: int = DRAWS, seed: int = 0) -> dict | None:
    """a − b with its 95 % interval: the same examples drawn for both; the same seeds where both share them.
    None when the two were not measured on the same test examples."""
    if a.scores.shape[1] != b.scores.shape[1] or not np.array_equal(a.weights, b.weights):
        return None
    rng = np.random.default_rng(seed)
    n = a.scores.shape[1]
    ex, sd_a = _draws(n, a.scores.shape[0], rng, draws)
    sd_b = sd_a if a.seeds == b.seeds else _draws(n, b.scores.shape[0], rng, draws)[1]
    rep = _replicates(a, ex, sd_a) - _replicates(b, ex, sd_b)
    full = a.value(a.scores.mean(0).sum(), a.weights.sum()) - b.value(b.scores.mean(0).sum(), b.weights.sum())
    lo, hi = np.quantile(rep, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return {"diff": float(full), "ci_low": float(lo), "ci_high": float(hi), "resolved": bool(lo > 0 or hi < 0),
            "paired_seeds": a.seeds == b.seeds}
