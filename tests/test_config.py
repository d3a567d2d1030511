"""One typed configuration tree: resolved by the explicit resolve step (every default filled in; validation reads no
file), one-line errors with the field path, and a resume key that moves when any resolved value does."""

from typing import Literal

import pytest
from pydantic import Field

from hyflexpim.config import Strict
from hyflexpim.device.noise import NOISE_MODELS, register_noise_model
from hyflexpim.errors import UserError
from hyflexpim.methods.noise.paper.accuracy import PaperNoise
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.evaluate_step import plan_digest
from hyflexpim.pipeline.resolve import parse_set, resolve_config
from hyflexpim.sim.config import HardwareConfig


@pytest.fixture
def plan():
    from hyflexpim.hw import get_shape, uniform_plan

    return uniform_plan(get_shape("minilm-l6"), 10)


def test_resolved_config_round_trips_and_holds_every_default():
    cfg = resolve_config()
    dumped = cfg.model_dump(mode="json")
    assert resolve_config(overrides=dumped).model_dump(mode="json") == dumped
    hw = dumped["hardware"]
    assert hw["noise"] == {"kind": "paper", "sigma_mlc": 0.025, "sigma_slc": 0.0}
    assert (hw["encoding"], hw["mlc_bits"]) == ("twos_complement", 2)  # from the chip spec
    assert hw["circuit"]["rows_per_array"] == 64 and hw["circuit"]["adc_bits_mlc"] == 7
    assert hw["attention"] == {"kind": "float"}


def test_chip_values_come_from_the_spec_and_overrides_reach_it():
    hw = HardwareConfig(mlc_bits=3, circuit={"adc_bits_mlc": 8}, attention={"kind": "digital", "value_bits": 12})
    chip = hw.chip()
    assert (chip.analog.mlc_bits, chip.analog.adc_bits_mlc, chip.analog.adc_bits_slc) == (3, 8, 6)
    assert chip.analog.cells_per_weight(False) == 3  # ceil(8 / 3)
    assert list(chip.digital.sv_bits) == [12, 12] and list(chip.digital.qk_bits) == [8, 8]
    plain = HardwareConfig(attention={"kind": "digital"}).resolved()  # the explicit step reads the spec
    assert (plain.attention.prob_bits, plain.attention.value_bits) == (12, 8)  # the spec's digital.sv_bits


def test_validating_reads_no_file_and_the_resolve_step_gives_the_one_line_error(monkeypatch, tmp_path):
    """Validation does no I/O (issue 29): a spec path that does not exist validates with every file read refused;
    the explicit resolve step then reads it and fails in one line, as loading did before."""
    import builtins
    import pathlib

    missing = str(tmp_path / "no_such_chip.yaml")

    def refuse(*_a, **_k):
        raise AssertionError("file I/O during validation")

    with monkeypatch.context() as m:
        for target, name in [(builtins, "open"), (pathlib.Path, "read_text"), (pathlib.Path, "open"),
                             (pathlib.Path, "is_file"), (pathlib.Path, "exists")]:
            m.setattr(target, name, refuse)
        hw = HardwareConfig(spec=missing, noise={"kind": "levels", "mlc_bits_per_cell": 3})
        run = RunConfig(hardware={"attention": {"kind": "pq", "codebooks": missing}})
    assert hw.encoding is None and hw.mlc_bits is None  # left to the spec until resolved
    with pytest.raises(UserError) as e:
        hw.resolved()
    assert "\n" not in str(e.value) and f"spec '{missing}' not found" in str(e.value)
    with pytest.raises(UserError, match=r"^config: hardware.noise.mlc_bits_per_cell: the cells have "
                                        r"hardware.mlc_bits=2 bits; set both to the same value; got 3$"):
        resolve_config(overrides={"hardware": {"noise": {"kind": "levels", "mlc_bits_per_cell": 3}}})
    with pytest.raises(UserError, match=r"^config: hardware: hardware.attention.codebooks: no such file "):
        run.check_files()
    done = HardwareConfig(mlc_bits=3).resolved()
    assert done.resolved() == done and done.encoding == "twos_complement" and done.circuit.rows_per_array == 64


def test_old_digital_attention_spelling_still_loads():
    hw = HardwareConfig(digital_attention={"softmax": "fixed_point"})
    assert hw.attention.kind == "digital" and hw.attention.softmax == "fixed_point"
    assert HardwareConfig(digital_attention=None).attention.kind == "float"


def test_override_changes_only_what_it_names():
    cfg = resolve_config(overrides=parse_set(["redistribute.max_steps=null", "pre_finetune.max_steps=3"]))
    assert cfg.redistribute.lr == 1e-4 and cfg.redistribute.max_steps is None
    assert cfg.pre_finetune.lr == 2e-4 and cfg.pre_finetune.max_steps == 3


def test_nested_errors_name_the_whole_path():
    with pytest.raises(UserError) as e:
        resolve_config(overrides={"hardware": {"noise": {"kind": "levels", "mlc": {"error_rate": 0.7}}}})
    msg = str(e.value)
    assert "\n" not in msg and "hardware.noise.mlc.error_rate" in msg and "0.7" in msg
    # the nearest field is suggested first (issue 28), then every allowed field
    with pytest.raises(UserError,
                       match=r"unknown field \(did you mean 'adc_bits_slc'\?\); allowed fields: rows_per_array"):
        resolve_config(overrides={"hardware": {"circuit": {"adc_bitz": 3}}})
    with pytest.raises(UserError, match="already set to a value"):
        parse_set(["plan=3", "plan.policy=global"])


def test_changing_a_noise_model_default_changes_the_resume_key(plan):
    before = plan_digest(plan, HardwareConfig())

    class PaperNoiseV2(Strict):  # the same model, released with another default σ
        kind: Literal["paper"] = "paper"
        sigma_mlc: float = Field(0.03, ge=0)
        sigma_slc: float = Field(0.0, ge=0)

    original = NOISE_MODELS.get("paper")
    register_noise_model("paper", PaperNoiseV2, PaperNoise, replace=True)
    try:
        after = plan_digest(plan, HardwareConfig())
    finally:
        NOISE_MODELS.register("paper", original, replace=True)
    assert before != after
    assert plan_digest(plan, HardwareConfig()) == before
    assert plan_digest(plan, HardwareConfig(circuit={"adc_bits_mlc": 8})) != before  # any resolved value


def test_an_override_naming_another_kind_replaces_the_section(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("hardware:\n  noise: {kind: paper, sigma_mlc: 0.02}\n  encoding: offset\n")
    c = resolve_config(str(cfg), overrides=parse_set(["hardware.noise.kind=levels", "hardware.noise.slc.ideal=true"]))
    assert c.hardware.noise.kind == "levels" and c.hardware.noise.slc.ideal and c.hardware.encoding == "offset"
    same = resolve_config(str(cfg), overrides=parse_set(["hardware.noise.sigma_slc=0.01"]))
    assert (same.hardware.noise.sigma_mlc, same.hardware.noise.sigma_slc) == (0.02, 0.01)  # same kind: merged


def test_selection_rules_are_compared_at_the_runs_own_rates():
    """The ablations default to the run's lowest rates between 0 and 100: with --slc-rates 0,20,100 the σ-order and
    random rules are measured at 20 %, where the gradient curve has a point; explicit lists are kept as given."""
    from hyflexpim.pipeline.preflight import off_curve
    from hyflexpim.pipeline.resolve import resolve_config

    c = resolve_config(None, False, {"plan": {"slc_rates": [0, 20, 100]}, "compare": {"policies": ["global"]}})
    for field in ("singular_value_rates", "random_rates", "magnitude_rates", "policy_rates"):
        assert c.compare.rates(field, c.plan.slc_rates) == [20], field
    default = resolve_config(None, False, {})
    assert default.compare.rates("singular_value_rates", default.plan.slc_rates) == [5, 10]
    assert default.compare.rates("policy_rates", default.plan.slc_rates) == [5, 10, 20]
    every = resolve_config(None, False, {"compare": {"magnitude_rates": "all"}})
    assert every.compare.rates("magnitude_rates", every.plan.slc_rates) == every.plan.slc_rates
    notes = []
    off_curve(resolve_config(None, False, {"plan": {"slc_rates": [0, 20, 100]},
                                           "compare": {"random_rates": [5]}}), notes.append)
    assert len(notes) == 1 and "compare.random_rates 5 %" in notes[0], notes


def test_the_fp32_line_of_a_run_without_fine_tuning_says_pretrained():
    from hyflexpim.report.results import label

    assert label("fp32", None) == "FP32 fine-tuned (clean)"
    assert label("fp32", None, pretrained=True) == "FP32 pretrained (clean)"
