import json

import pytest

from conftest import tiny_bert, tiny_gpt2
from hyflexpim.algo.decompose import decompose
from hyflexpim.algo.importance import score_importance
from hyflexpim.algo.plan_policy import make_plan
from hyflexpim.errors import UserError
from hyflexpim.models import fingerprint
from hyflexpim.plan import load_plan


@pytest.fixture
def plan():
    model = tiny_bert()
    decompose(model)
    return make_plan(model, score_importance(model, "singular_value"), 10), model


def test_plan_json_round_trip_is_exact(plan, tmp_path):
    p, _ = plan
    path = p.save(tmp_path / "plan.json")
    again = load_plan(path)
    assert again == p
    assert again.model_dump_json() == p.model_dump_json()
    assert again.package_version and again.policy["slc_rate"] == 10.0


def test_plan_refuses_another_model(plan):
    p, model = plan
    p.check_model(fingerprint(model))
    with pytest.raises(UserError, match="plan was made for model"):
        p.check_model(fingerprint(tiny_gpt2()))


@pytest.mark.parametrize("corrupt, message", [
    (lambda t: t[: len(t) // 2], "not valid JSON"),
    (lambda t: t.replace('"rank": 16', '"rank": 999', 1), "rank must be in"),
    (lambda t: t.replace('"format": 2', '"format": 7'), "format 7"),
    (lambda t: t.replace('"slc": [\n', '"slc": [\n  99999,\n', 1), "slc"),
])
def test_corrupted_plan_is_one_clear_error(plan, tmp_path, corrupt, message):
    p, _ = plan
    text = corrupt(p.model_dump_json(indent=1))
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(UserError, match=message):
        load_plan(tmp_path / "bad.json")


def test_missing_plan_file(tmp_path):
    with pytest.raises(UserError, match="cannot read plan"):
        load_plan(tmp_path / "nope.json")


def test_plan_lists_digital_matrices_with_reasons(plan):
    p, _ = plan
    reasons = {m.name: m.digital_reason for m in p.digital}
    assert reasons["classifier"] and reasons["bert.pooler.dense"]
    assert all(m.rank for m in p.analog)
    data = json.loads(p.model_dump_json())
    assert {"name", "role", "shape", "rank", "layer", "slc", "importance", "scorer"} <= set(data["matrices"][0])


def test_a_plan_whose_shapes_were_edited_is_refused(plan):
    from hyflexpim.sim.apply import apply_plan

    p, model = plan
    edited = p.model_copy(deep=True)
    entry = next(m for m in edited.matrices if m.analog)
    d_out, d_in = entry.shape
    entry.shape = (d_out + 8, d_in)  # same fingerprint, another shape
    with pytest.raises(UserError, match=f"plan places {entry.name} as \\[{d_out + 8}, {d_in}\\]"):
        apply_plan(model, edited)
