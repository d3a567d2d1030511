"""The chip side of dynamic sparse attention: each predictor's cost, the plan's attention block priced on
any design, the attention-only (HARDSEA-like) design against a GPU on the same work."""

import pytest

from hyflexpim.chip.spec import load_spec
from hyflexpim.errors import UserError
from hyflexpim.hw import compare, evaluate
from hyflexpim.hw.costs import prediction_costs
from hyflexpim.hw.sparse_sweep import sparse_plan


def test_prediction_costs_order_the_predictors():
    base = load_spec("hyflexpim")

    def work(kind, **kw):
        spec = base.model_copy(update={"prediction": base.prediction.model_copy(update={"kind": kind, **kw})})
        c = prediction_costs(spec, 64)
        return c["units"] * c["steps"]

    assert work("none") == 0
    assert work("exact") > work("low_bit", bits=4) > work("page_bound", page=16) > work("pq") > work("accumulated") > 0
    assert work("low_bit", bits=2) < work("low_bit", bits=4)  # fewer bits, fewer NOR steps
    assert work("pq", subspaces=16) == 2 * work("pq", subspaces=8)  # M adds per entry


def test_a_sparse_plan_is_priced_with_its_predictor_on_any_pim_design():
    dense = evaluate("bert-base", "hyflexpim", [2048], slc_rate=10)
    pq = evaluate(sparse_plan("bert-base", "pq", 0.25), "hyflexpim", [2048])
    oracle = evaluate(sparse_plan("bert-base", "topk", 0.25), "hyflexpim", [2048])
    assert pq["info"]["prediction"] == "pq" and pq["info"]["attention_density"] == 0.25
    assert dense["throughput_tok_s"][0] < oracle["throughput_tok_s"][0] < pq["throughput_tok_s"][0]
    assert oracle["energy_by_role_j"]["prediction"][0] > 10 * pq["energy_by_role_j"]["prediction"][0]
    built_in = evaluate("bert-base", "hyflexpim_pq", [2048], slc_rate=10)  # the spec with PQ at 25 % built in
    assert built_in["throughput_tok_s"][0] == pytest.approx(pq["throughput_tok_s"][0], rel=1e-12)
    with pytest.raises(UserError, match="prices its own sparse attention"):
        evaluate(sparse_plan("bert-base", "pq", 0.25), "hyflexpim_pq", [128])


def test_the_attention_only_design_meets_the_gpu_on_the_same_work():
    hs, gpu = compare("bert-base", [128, 512], spec="hardsea", baselines=("gpu_a100",))
    assert gpu["info"]["scope"] == "self-attention only"
    assert gpu["ops_per_inference"] == pytest.approx(hs["ops_per_inference"], rel=1e-12)  # the same attention
    whole = evaluate("bert-base", "gpu_a100", [128])
    assert whole["ops_per_inference"][0] > 3 * gpu["ops_per_inference"][0]  # the linear layers left out
    assert hs["energy_by_component_j"]["prediction"][0] > 0
    with pytest.raises(UserError, match="self-attention only"):
        compare("bert-base", [128], spec="hardsea", baselines=("all_slc",))
