"""The extension recipes of docs/extending.md work as written: one file plus one registration."""

import re
from pathlib import Path

import pytest
import torch

from conftest import cls_batches, tiny_bert
from hyflexpim import HardwareConfig, apply_plan, decompose, evaluate, make_plan, score_importance
from hyflexpim.errors import UserError

DOC = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()


def doc_block(heading: str) -> str:
    return re.search(re.escape(heading) + r".*?```python\n(.*?)```", DOC, re.S).group(1)


def test_worked_example_scorer_runs_as_written(capsys):
    exec(compile(doc_block("## Worked example"), "extending.md", "exec"), {})
    out = capsys.readouterr().out.split()
    assert out[0] == "16" and " ".join(out[1:]) == "[12, 13, 14, 15]"


def test_registered_scorer_is_accepted_by_the_run_config():
    from hyflexpim.algo.importance import SCORERS
    from hyflexpim.pipeline.resolve import resolve_config

    exec(compile(doc_block("## Worked example"), "extending.md", "exec"), {})
    assert "smallest_sigma_first" in SCORERS
    assert resolve_config(overrides={"importance": {"scorer": "smallest_sigma_first"}}).importance.scorer == \
        "smallest_sigma_first"
    with pytest.raises(UserError, match=r"importance.scorer"):
        resolve_config(overrides={"importance": {"scorer": "no_such_scorer"}})


def test_noise_model_recipe_is_typed_validated_and_applied():
    ns = {}
    exec(compile(doc_block("**A noise model**"), "extending.md", "exec"), ns)
    hw = HardwareConfig(noise={"kind": "additive", "sigma": 0.2})
    assert hw.model_dump()["noise"] == {"kind": "additive", "sigma": 0.2}
    with pytest.raises(UserError, match=r"noise.sigma"):
        HardwareConfig(noise={"kind": "additive", "sigma": -1})
    model = tiny_bert()
    decompose(model)
    plan = make_plan(model, score_importance(model, "singular_value"), 0)
    name = plan.analog[0].name
    clean = apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"})).get_submodule(name).w0
    noisy = apply_plan(model, plan, hw).get_submodule(name).w0
    scale = (clean.abs().max() / 127).item()
    # one MLC digit of the lowest slice moves a code by σ·N(0,1); four slices weighted 1, 4, 16, 64
    rel = ((noisy - clean) / scale).std().item() / (0.2 * (1 + 16 + 256 + 4096) ** 0.5)
    assert 0.9 < rel < 1.1


def test_plan_policy_and_rank_policy_recipes():
    from hyflexpim.algo.decompose import DecomposeConfig
    from hyflexpim.algo.plan_policy import register_plan_policy
    from hyflexpim.algo.rank import register_rank_policy

    def first_layer_only(analog, rate):
        for e in analog:
            e.slc = list(range(e.n_units)) if e.layer == 0 else []

    register_plan_policy("first_layer_only", first_layer_only, replace=True)
    register_rank_policy("half", lambda shape, S, value, name: max(1, min(shape) // 2), replace=True)
    model = tiny_bert()
    decompose(model, DecomposeConfig(rank_policy="half"))
    plan = make_plan(model, score_importance(model, "singular_value"), 50, policy="first_layer_only")
    assert all(m.rank == min(m.shape) // 2 for m in plan.analog)
    assert all((len(m.slc) == m.n_units) == (m.layer == 0) for m in plan.analog)
    acc = evaluate(apply_plan(model, plan, HardwareConfig()), cls_batches(2))
    assert 0 <= acc <= 1


def test_encoding_recipe_reaches_both_sides():
    from hyflexpim.chip.encodings import Encoding, register_encoding
    from hyflexpim.device.slicing import Cells, slice_int8
    from hyflexpim.hw import evaluate as hw_evaluate

    def sign_magnitude(q, b, dtype=torch.float32):
        mag = slice_int8(q.abs(), b, "offset")  # |q| + 128 unsigned, as a starting point
        lv = mag.levels
        return Cells(digits=mag.digits, levels=lv, bits_per_cell=b, group_sign=torch.tensor([1]), offset=128,
                     encoding="sign_magnitude_test")

    register_encoding(Encoding("sign_magnitude_test", 3, 0, sign_magnitude), replace=True)
    q = torch.arange(0, 128)
    assert torch.equal(slice_int8(q, 2, "sign_magnitude_test").reconstruct(), q.float())
    hw = HardwareConfig(encoding="sign_magnitude_test")
    chip = hw.chip()
    assert chip.analog.encoding == "sign_magnitude_test"
    r = hw_evaluate("bert-base", chip, [128])
    assert r.info.cells_per_weight_mlc == 3 * 4  # three column groups of four 2-bit cells


def test_design_recipe_by_name_and_unknown_names():
    from hyflexpim.chip.spec import DESIGNS, SPEC_DIR, load_spec, register_design

    register_design("hyflexpim_copy_test", SPEC_DIR / "hyflexpim.yaml", replace=True)
    assert load_spec("hyflexpim_copy_test").name == "HyFlexPIM"
    assert HardwareConfig(spec="hyflexpim_copy_test").chip().name == "HyFlexPIM"
    DESIGNS.unregister("hyflexpim_copy_test")
    with pytest.raises(UserError, match="hyflexpim_copy_test"):
        load_spec("hyflexpim_copy_test")
    with pytest.raises(ValueError, match="already registered"):
        register_design("hyflexpim", SPEC_DIR / "hyflexpim.yaml")
