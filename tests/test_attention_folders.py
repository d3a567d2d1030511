"""Every attention kind is a method folder (hyflexpim/methods/{attention,predictors}/<name>/): importing a module
registers no kind (tests/test_method_kinds.py checks every family's registries); the registration resolves each
folder's halves by dotted path; the plan carries a sparse kind's typed settings (validated by kind, the old format
with its ``params.prediction`` still loading) and the chip's prediction section is derived from them by the
folder's cost half."""

import json
import subprocess
import sys

import pytest

from hyflexpim.config.attention import AttentionSettings, SparseAttentionBase
from hyflexpim.config.methods import METHOD_PACKAGES, attention_methods, prediction_kinds, predictor_methods
from hyflexpim.errors import UserError
from hyflexpim.plan import AttentionPlan


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_every_folder_registers_its_kind_and_settings():
    methods = attention_methods()
    assert [m.package for m in methods.values()] == list(METHOD_PACKAGES)
    for kind, m in methods.items():
        cls = m.load("config")
        assert issubclass(cls, AttentionSettings) and cls().kind == kind
        assert issubclass(cls, SparseAttentionBase) == m.sparse  # a sparse kind has a keep share
    assert {"float", "digital"} == {k for k, m in methods.items() if not m.sparse}
    from hyflexpim.hw.costs_prediction import Predictor as CostHalf
    from hyflexpim.sim.sparse_attention import Predictor as Scorer

    for m in predictor_methods().values():  # every part a sparse folder names exists and is what it says
        assert isinstance(m.load("accuracy"), Scorer) and callable(m.load("prediction"))
        assert (m.load("cost") is None) == (m.prediction_kind is None)
        assert m.load("cost") is None or isinstance(m.load("cost"), CostHalf)
        assert m.load("prediction")(m.load("config")())["kind"] in prediction_kinds()  # priced by some folder
    assert set(prediction_kinds()) == {"none", "exact", "page_bound", "accumulated", "low_bit", "cluster", "pq"}


def test_the_settings_and_the_cost_side_load_no_torch():
    code = ("import sys\nfrom hyflexpim.config.methods import predictor_methods\n"
            "from hyflexpim.chip.spec import Prediction\n"
            "from hyflexpim.hw.costs_prediction import chip_prediction, predictor\n"
            "from hyflexpim.plan import AttentionPlan\n"
            "for kind in predictor_methods():\n"
            "    predictor(Prediction(**chip_prediction(AttentionPlan(kind=kind, keep=0.5))))\n"
            "print('torch' in sys.modules)")
    assert _fresh(code) == "False"


@pytest.mark.parametrize("kind, settings, prediction", [
    ("topk", {}, {"kind": "exact"}), ("window", {}, {"kind": "none"}),
    ("block", {"block": 32}, {"kind": "page_bound", "page": 32}), ("block", {"score": "exact"}, {"kind": "exact"}),
    ("spatten", {}, {"kind": "accumulated"}), ("h2o", {}, {"kind": "accumulated"}),
    ("quest", {"page": 8}, {"kind": "page_bound", "page": 8}), ("sanger", {"bits": 3}, {"kind": "low_bit", "bits": 3}),
    ("pq", {"subspaces": 4}, {"kind": "pq", "subspaces": 4, "centroids": 16}),
])
def test_the_plan_carries_typed_settings_and_the_chip_prediction_is_derived(kind, settings, prediction):
    from hyflexpim.hw.costs_prediction import chip_prediction

    a = AttentionPlan(kind=kind, keep=0.3, params=settings)
    typed = a.settings
    assert type(typed) is predictor_methods()[kind].load("config") and typed.keep == 0.3
    assert AttentionPlan.of(typed) == a and AttentionPlan.model_validate_json(a.model_dump_json()) == a
    assert "prediction" not in a.params and chip_prediction(a) == prediction


def test_a_dense_plan_block_is_unchanged():
    from hyflexpim.sim.attention import attention_config, attention_plan

    for kind in ("float", "digital"):
        a = attention_plan(attention_config({"kind": kind}))
        assert a.model_dump_json() == '{"kind":"dense","keep":1.0,"params":{}}' and a.settings is None


def test_an_old_format_sparse_plan_loads():
    """Plans written before the settings were typed carried the chip's prediction section in ``params``."""
    old = {"kind": "pq", "keep": 0.25, "params": {
        "qk_bits": 8, "qk_granularity": "per_token", "prob_bits": 12, "value_bits": 8, "value_granularity": "per_head",
        "softmax": "exact", "softmax_frac_bits": 8, "softmax_int_bits": 5, "softmax_exp_bits": 16, "keep_first": True,
        "keep_diagonal": True, "exact": "digital", "dense_layers": 0, "subspaces": 8, "centroids": 16,
        "predictor_noise": 0.0, "codebooks": "attention/codebooks-original-M8K16.safetensors",
        "prediction": {"kind": "pq", "subspaces": 8, "centroids": 16}}}
    a = AttentionPlan.model_validate_json(json.dumps(old))
    assert "prediction" not in a.params and a.settings.codebooks == old["params"]["codebooks"]
    assert a == AttentionPlan.of(a.settings)


def test_bad_settings_in_a_plan_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="centroids"):
        AttentionPlan(kind="pq", keep=0.5, params={"centroids": 0})
    with pytest.raises(ValueError, match="nope"):
        AttentionPlan(kind="topk", keep=0.5, params={"nope": 1})
    with pytest.raises(ValueError, match="unknown attention kind 'topkk'"):
        AttentionPlan(kind="topkk", keep=0.5)


def test_a_sparse_kind_outside_the_folders_runs_but_a_plan_refuses_it():
    from typing import Literal

    from hyflexpim.sim.attention import ATTENTION_KINDS, attention_config, attention_plan, register_attention_kind

    class Mine(SparseAttentionBase):
        kind: Literal["mine"] = "mine"

    register_attention_kind("mine", Mine, enable=lambda model, cfg: None, replace=True)
    try:
        cfg = attention_config({"kind": "mine", "keep": 0.5})
        assert isinstance(cfg, Mine)
        with pytest.raises(UserError, match="not a method folder"):
            attention_plan(cfg)
    finally:
        ATTENTION_KINDS.unregister("mine")
