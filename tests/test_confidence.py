"""Paired-bootstrap intervals over test examples × noise seeds (hyflexpim.report.confidence)."""

import math

import numpy as np
import torch

from hyflexpim.report.confidence import difference, interval, point, unpack_correct
from hyflexpim.report.results import compare_curves, summarize
from hyflexpim.sim.evaluate import record_fields, summary


def recs(correct_rows, variant="redistributed", scorer="grad_abs", rate=10.0, seeds=None):
    """Evaluation records of one curve point, one per row of per-example outcomes."""
    out = []
    for i, c in enumerate(correct_rows):
        outcome = {"correct": torch.as_tensor(c, dtype=torch.bool)}
        out.append({"variant": variant, "scorer": scorer, "policy": "uniform", "slc_rate": rate,
                    "seed": (seeds or range(len(correct_rows)))[i], "metric": "accuracy", "value": summary(outcome),
                    "slc_weight_fraction": 0.1, **record_fields(outcome)})
    return out


def test_packed_outcomes_round_trip_exactly():
    rng = np.random.default_rng(1)
    for n in (1, 7, 8, 9, 640, 641):
        c = rng.random(n) < 0.6
        f = record_fields({"correct": torch.as_tensor(c)})
        assert f["n_examples"] == n
        assert np.array_equal(unpack_correct(f["correct"], n), c)


def test_one_seed_interval_matches_the_binomial_standard_error():
    # 640 examples at 75 %: the 95 % interval's half-width is 1.96·sqrt(p(1-p)/n) = 3.35 points
    rng = np.random.default_rng(0)
    c = np.zeros(640, bool)
    c[rng.choice(640, 480, replace=False)] = True
    lo, hi = interval(point(recs([c])))
    expected = 1.96 * math.sqrt(0.75 * 0.25 / 640)
    assert abs((hi - lo) / 2 - expected) < 0.15 * expected  # bootstrap percentile vs normal approximation
    assert lo < 0.75 < hi


def test_seed_spread_widens_the_interval():
    # three noise seeds 5 points apart (0, 32, 64 of the correct examples turned wrong) against three copies of the
    # middle one: the same mean, but the seeds' own spread adds to the test set's sampling error
    rng = np.random.default_rng(0)
    base = rng.random(640) < 0.8
    rows = []
    for k in (0, 32, 64):
        r = base.copy()
        r[np.flatnonzero(base)[:k]] = False
        rows.append(r)
    spread, same = point(recs(rows)), point(recs([rows[1]] * 3))
    w_same = np.subtract(*interval(same)[::-1])
    w_spread = np.subtract(*interval(spread)[::-1])
    assert w_spread > 1.1 * w_same


def test_paired_difference_resolves_what_two_separate_intervals_cannot():
    # b is a with 20 of 640 examples turned wrong: a 3.1-point difference, inside either point's own ±3.4
    rng = np.random.default_rng(2)
    a = rng.random(640) < 0.75
    b = a.copy()
    b[np.flatnonzero(a)[:20]] = False
    pa, pb = point(recs([a])), point(recs([b]))
    d = difference(pa, pb)
    assert math.isclose(d["diff"], 20 / 640)
    assert d["resolved"] and d["ci_low"] > 0
    assert interval(pa)[0] < interval(pb)[1]  # the two intervals overlap: unpaired, nothing would be resolved


def test_identical_points_are_not_resolved():
    rng = np.random.default_rng(3)
    a = rng.random(640) < 0.7
    d = difference(point(recs([a, a])), point(recs([a, a])))
    assert d["diff"] == 0 and not d["resolved"]


def test_perplexity_point_is_the_exp_of_the_mean_nll_per_token():
    outcome = {"nll": torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64),
               "tokens": torch.tensor([5.0, 5.0, 10.0], dtype=torch.float64)}
    assert math.isclose(summary(outcome), math.exp(60 / 20))
    rec = {"metric": "perplexity", "seed": 0, **record_fields(outcome)}
    lo, hi = interval(point([rec]))
    assert lo <= math.exp(3) <= hi


def test_records_without_outcomes_have_no_interval_and_the_table_marks_resolution():
    rng = np.random.default_rng(4)
    int8 = rng.random(640) < 0.78
    low = int8.copy()
    low[np.flatnonzero(int8)[:60]] = False  # 9.4 points below INT8: resolved
    near = int8.copy()
    near[np.flatnonzero(int8)[:2]] = False  # 0.3 points: not resolved
    records = (recs([int8, int8], rate=100.0) + recs([low, low], rate=0.0) + recs([near, near], rate=10.0)
               + [{"variant": "svd", "scorer": "grad_abs", "policy": "uniform", "slc_rate": 10.0, "seed": 0,
                   "metric": "accuracy", "value": 0.5, "slc_weight_fraction": 0.1}])
    rows = {(r["variant"], r["slc_rate"]): r for r in summarize(records, "grad_abs")}
    assert rows[("redistributed", 0.0)]["vs_int8_resolved"] is True
    assert rows[("redistributed", 10.0)]["vs_int8_resolved"] is False
    assert rows[("redistributed", 100.0)]["vs_int8"] is None  # the reference itself
    assert rows[("svd", 10.0)]["ci_low"] is None  # an old record without per-example outcomes
    diffs = compare_curves(records, ("redistributed", "grad_abs"), ("redistributed", "grad_abs"))
    assert [d["slc_rate"] for d in diffs] == [0.0, 10.0, 100.0] and not any(d["resolved"] for d in diffs)
