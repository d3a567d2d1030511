"""The chip side of dynamic sparse attention: each predictor's cost, the plan's attention block priced on
any design, the attention-only (HARDSEA-like) design against a GPU on the same work."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import one_line_error
from hyflexpim.chip.spec import load_spec
from hyflexpim.errors import UserError
from hyflexpim.hw import compare, evaluate
from hyflexpim.hw.capacity import max_tokens
from hyflexpim.hw.costs import prediction_costs, topk_rounds, topk_visits
from hyflexpim.hw.mapping import cells_per_weight
from hyflexpim.hw.shapes import get_shape
from hyflexpim.hw.sparse_sweep import sparse_gains, sparse_plan, spatten_topk_cycles


def test_prediction_costs_order_the_predictors():
    base = load_spec("hyflexpim")

    def work(kind, **kw):
        spec = base.model_copy(update={"prediction": base.prediction.model_copy(update={"kind": kind, **kw})})
        c = prediction_costs(spec, 64)
        return c.units * c.steps

    assert work("none") == 0
    assert work("exact") > work("low_bit", bits=4) > work("page_bound", page=16) > work("pq") > work("accumulated") > 0
    assert work("low_bit", bits=2) < work("low_bit", bits=4)  # fewer bits, fewer NOR steps
    assert work("pq", subspaces=16) == 2 * work("pq", subspaces=8)  # M adds per entry


def test_a_sparse_plan_is_priced_with_its_predictor_on_any_pim_design():
    dense = evaluate("bert-base", "hyflexpim", [2048], slc_rate=10)
    pq = evaluate(sparse_plan("bert-base", "pq", 0.25), "hyflexpim", [2048])
    oracle = evaluate(sparse_plan("bert-base", "topk", 0.25), "hyflexpim", [2048])
    assert pq.info.prediction == "pq" and pq.info.attention_density == 0.25
    assert dense.throughput_tok_s[0] < oracle.throughput_tok_s[0] < pq.throughput_tok_s[0]
    assert oracle.energy_by_role_j["prediction"][0] > 10 * pq.energy_by_role_j["prediction"][0]
    built_in = evaluate("bert-base", "hyflexpim_pq", [2048], slc_rate=10)  # the spec with PQ at 25 % built in
    assert built_in.throughput_tok_s[0] == pytest.approx(pq.throughput_tok_s[0], rel=1e-12)
    with pytest.raises(UserError, match="prices its own sparse attention"):
        evaluate(sparse_plan("bert-base", "pq", 0.25), "hyflexpim_pq", [128])


def test_the_attention_only_design_meets_the_gpu_on_the_same_work():
    hs, gpu = compare("bert-base", [128, 512], spec="hardsea", baselines=("gpu_a100",))
    assert gpu.info.scope == "self-attention only"
    assert gpu.ops_per_inference == pytest.approx(hs.ops_per_inference, rel=1e-12)  # the same attention
    whole = evaluate("bert-base", "gpu_a100", [128])
    assert whole.ops_per_inference[0] > 3 * gpu.ops_per_inference[0]  # the linear layers left out
    assert hs.energy_by_component_j["prediction"][0] > 0
    with pytest.raises(UserError, match="self-attention only"):
        compare("bert-base", [128], spec="hardsea", baselines=("all_slc",))


def test_the_headline_compares_the_same_predictor_and_keep_on_both_sides():
    hy, ref = compare(sparse_plan("bert-base", "pq", 0.25), [128, 8192], baselines=("all_slc",))
    for r in (hy, ref):  # all-SLC runs the same PQ predictor at the same keep, and pays for it
        assert r.info.prediction == "pq" and r.info.attention_density == 0.25
        assert all(x > 0 for x in r.energy_by_role_j["prediction"])
    _, dense_ref = compare("bert-base", [128, 8192], baselines=("all_slc",), slc_rate=10)
    g = sparse_gains("bert-base", "pq", 0.25, [128, 8192])
    assert g.over_same == pytest.approx([a / b for a, b in zip(hy.throughput_tok_s, ref.throughput_tok_s)], rel=1e-12)
    assert g.sparsity == pytest.approx([a / b for a, b in zip(ref.throughput_tok_s, dense_ref.throughput_tok_s)],
                                       rel=1e-12)
    assert g.over_dense == pytest.approx([s * h for s, h in zip(g.sparsity, g.over_same)], rel=1e-9)
    # at long L the sparsity, not HyFlexPIM, carries the gain over dense all-SLC
    assert g.sparsity[1] > 2.0 and g.over_same[1] < g.over_same[0] and g.over_same[1] < 1.2


def test_pq_table_build_reads_the_bit_sliced_centroid_columns():
    spec = load_spec("hyflexpim_pq")
    pr = spec.prediction
    assert cells_per_weight(spec, True) == 8  # an INT8 centroid in 8 one-bit SLC columns
    c = prediction_costs(spec, 64)
    # query table + key codes: M*K dot products each, 8 input bits x 8 columns per dot product
    assert c.conversions_per_token == 2 * pr.subspaces * pr.centroids * 8 * 8 == 16384
    assert c.driver_row_bits_per_token == 2 * pr.subspaces * pr.centroids * (64 / pr.subspaces) * 8
    mlc4 = load_spec("hyflexpim_pq", {"analog": {"encoding": "offset", "mlc_bits": 4}})
    assert prediction_costs(mlc4, 64).conversions_per_token == c.conversions_per_token  # SLC either way


def test_topk_selection_costs_the_sourced_library_engine():
    spec = load_spec("hyflexpim_pq")
    eng = spec.comp(spec.prediction.topk)
    assert spec.prediction.topk == "topk_quickselect" and eng.latency_ns == 1 / 16 and eng.energy_pj == 0.05
    c = prediction_costs(spec, 64, 0.25)
    scoring = c.units * c.steps * spec.comp(spec.digital.pim).energy_pj
    assert c.topk_visits == pytest.approx(topk_visits(0.25)) and 3.0 < c.topk_visits < 3.2
    assert c.energy_pj - scoring == pytest.approx(c.topk_visits * eng.energy_pj, rel=1e-12)
    assert c.topk_ns_per_entry == pytest.approx(c.topk_visits * eng.latency_ns / spec.prediction.topk_engines)
    assert prediction_costs(spec, 64, 1.0).topk_visits == 0  # nothing to select when every entry is kept
    # the expectation against a re-implementation of SpAtten's latency model (random pivot, 16 per cycle, +3 per round)
    rng = np.random.default_rng(0)
    n, keep, cycles = 2048, 0.25, []
    for _ in range(40):
        cycles.append(spatten_topk_cycles(n, keep, rng))
    model = n * topk_visits(keep) / 16 + 3 * float(topk_rounds(n))
    assert model == pytest.approx(np.mean(cycles), rel=0.08)
    # fewer engines, slower selection, same energy
    one = load_spec("hyflexpim_pq", {"prediction": {"topk_engines": 1}})
    a, b = evaluate("bert-base", spec, [4096], slc_rate=10), evaluate("bert-base", one, [4096], slc_rate=10)
    assert b.latency_s[0] > a.latency_s[0]
    assert b.energy_per_inference_j[0] == pytest.approx(a.energy_per_inference_j[0], rel=1e-12)


def test_a_length_past_the_digital_pim_is_refused_naming_the_limit():
    room = evaluate("bert-base", "hyflexpim", [128], slc_rate=10).info.digital_room_tokens
    assert 65_536 < room < 1_000_000  # 1 PU per layer: 192 MiB for K, V and one score row per head
    evaluate("bert-base", "hyflexpim", [room], slc_rate=10)
    with pytest.raises(UserError, match=f"longest context that fits is {room:,} tokens"):
        evaluate("bert-base", "hyflexpim", [room + 1], slc_rate=10)
    with pytest.raises(UserError, match="NOR-PIM arrays of 1024x1024"):
        evaluate("bert-base", "hyflexpim", [10**6], slc_rate=10)
    # generation keeps every sequence's cache resident: the room per sequence shrinks with the batch
    spec, shape = load_spec("hyflexpim"), get_shape("gpt2")
    assert max_tokens(spec, shape, 1, 8, 16) == max_tokens(spec, shape, 1, 1, 16) // 8
    assert max_tokens(spec, shape, 1, 8, 0) == max_tokens(spec, shape, 1, 1, 0)  # a prefill holds one sequence
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "hw", "--model", "bert-base", "--seq-lens",
                        "1000000"], capture_output=True, text=True)
    one_line_error(r, "longest context that fits")


def test_the_cli_says_when_a_ratio_includes_the_sparsity_and_where_the_keep_was_validated():
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "hw", "--model", "bert-base", "--spec",
                        "hyflexpim_pq", "--seq-lens", "128", "--baselines", "all_slc"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "all_slc computes dense attention" in out and "<= 128 tokens" in out
