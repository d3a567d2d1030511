"""Typed cost results (hyflexpim.hw.results) and the predictor registry (hyflexpim.hw.costs_prediction)."""

import dataclasses
import json
import math

import pytest

from hyflexpim.chip.spec import Prediction, load_spec
from hyflexpim.hw import (
    CostPoint,
    HwResult,
    compare,
    compare_modes,
    evaluate,
    get_shape,
    to_rows,
)
from hyflexpim.hw.capacity import bits_per_token
from hyflexpim.hw.costs_prediction import PREDICTORS, prediction_costs
from hyflexpim.hw.results import METRICS, AttentionInfo, GpuInfo, PimInfo, RooflineInfo


def test_results_are_frozen_and_typed_per_design_kind():
    res = compare("bert-base", [128, 512], baselines=("all_slc", "sprint", "gpu_a100"))
    assert [type(r.info) for r in res] == [PimInfo, PimInfo, RooflineInfo, GpuInfo]
    hy = res[0]
    assert isinstance(hy, HwResult) and hy.key == "hyflexpim" and hy.seq_lens == (128, 512)
    assert all(isinstance(getattr(hy, m), tuple) and len(getattr(hy, m)) == 2 for m in METRICS)
    assert all(type(v) is float for m in METRICS for v in getattr(hy, m))  # plain floats, not numpy
    with pytest.raises(dataclasses.FrozenInstanceError):
        hy.latency_s = (0.0, 0.0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        hy.info.chips = 3  # type: ignore[misc]
    assert hy.info.compare == "iso-area" and hy.info.batch_label == "1" and hy.info.scope is None
    # designs without an SLC/MLC split or a predictor answer the same questions
    assert res[2].info.slc_weight_fraction is None and res[3].info.attention_density == 1.0
    assert res[3].info.prediction == "none" and "batch 1" in res[3].info.summary()


def test_a_point_is_the_result_at_one_length():
    r = evaluate("gpt2", "hyflexpim", [128, 1024], slc_rate=10, gen_tokens=4)
    p = r.point(1)
    assert isinstance(p, CostPoint) and p.seq_len == 1024 and p.mode == "generation"
    assert p.latency_s == r.latency_s[1] and p.tops_per_w == r.tops_per_w[1]
    assert p.energy_by_component_j == {k: v[1] for k, v in r.energy_by_component_j.items()}
    assert p.bottleneck == r.bottleneck_stage[1]
    assert [q.seq_len for q in r.points] == [128, 1024]


def test_rows_and_json_are_the_one_conversion():
    res = compare_modes("gpt2", [128, 256], baselines=("all_slc", "gpu_a100"), gen_tokens=8)
    rows = to_rows(res)
    assert len(rows) == len(res) * 2
    hy_gen = next(r for r in res if r.key == "hyflexpim" and r.mode == "generation")
    ref_gen = next(r for r in res if r.key == "all_slc" and r.mode == "generation")
    row = next(x for x in rows if x["design"] == "hyflexpim" and x["mode"] == "generation" and x["seq_len"] == 256)
    assert row["throughput_vs_all_slc"] == hy_gen.throughput_tok_s[1] / ref_gen.throughput_tok_s[1]
    assert row["energy_adc_j"] == hy_gen.energy_by_component_j["adc"][1]
    assert row["slc_weight_fraction"] == hy_gen.info.slc_weight_fraction
    gpu_row = next(x for x in rows if x["design"] == "gpu_a100")
    assert gpu_row["slc_weight_fraction"] is None and "energy_kernels_j" in gpu_row
    d = json.loads(json.dumps(hy_gen.as_dict()))  # JSON-ready: plain lists, numbers, strings
    assert d["latency_s"] == list(hy_gen.latency_s) and d["info"]["chips"] == hy_gen.info.chips
    assert list(d)[-1] == "key" and list(d["info"])[-2:] == ["batch_label", "compare"]  # labels last


def test_an_attention_only_comparison_labels_its_scope():
    hs, gpu = compare("bert-base", [128], spec="hardsea", baselines=("gpu_a100",))
    assert isinstance(hs.info, AttentionInfo) and hs.info.scope == "self-attention only"
    assert isinstance(gpu.info, GpuInfo) and gpu.info.scope == "self-attention only"
    assert gpu.as_dict()["info"]["scope"] == "self-attention only" and "scope" not in evaluate(
        "bert-base", "gpu_a100", [128]).as_dict()["info"]


def test_every_predictor_kind_of_the_schema_is_priced():
    from hyflexpim.config.methods import prediction_kinds
    assert set(PREDICTORS.names()) == set(prediction_kinds())  # a kind the schema accepts without a price fails


def test_the_predictor_answers_its_capacity_and_table_build():
    hy = load_spec("hyflexpim")
    shape = get_shape("bert-base")
    # the entry-wise kinds (a per-token one, the method folder's cluster, has its own test: test_cluster_predictor)
    with_kind = {k: hy.model_copy(update={"prediction": Prediction(kind=k)}) for k in PREDICTORS.names()
                 if PREDICTORS.get(k).entrywise}
    base = bits_per_token(with_kind["none"], shape)
    pq = Prediction(kind="pq")
    assert bits_per_token(with_kind["pq"], shape) - base == shape.heads * pq.subspaces * math.ceil(
        math.log2(pq.centroids))
    assert all(bits_per_token(s, shape) == base for k, s in with_kind.items() if k != "pq")
    costs = {k: prediction_costs(s, 64, 0.25) for k, s in with_kind.items()}
    assert costs["pq"].conversions_per_token > 0
    assert all(c.conversions_per_token == 0 for k, c in costs.items() if k != "pq")  # only PQ builds a table
    assert not costs["none"].selects and costs["none"].energy_pj == 0
    assert all(c.selects and c.topk_visits > 0 for k, c in costs.items() if k != "none")
