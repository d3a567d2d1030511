"""Spec loading, component library roll-up vs the reference module totals, bad specs."""

import pytest

from hyflexpim.chip.spec import BUILTIN, PimSpec, load_spec
from hyflexpim.errors import UserError
from hyflexpim.hw.library import pu_totals

REL = 0.005  # the spec must reproduce the reference totals within 0.5%


def test_all_builtin_specs_load():
    for name in BUILTIN:
        assert load_spec(name).name


def test_pu_totals_match_reference():
    t = pu_totals(load_spec("hyflexpim"))
    an, dg = t.analog, t.digital
    assert an.area_mm2 == pytest.approx(11.24, rel=REL)
    assert an.power_w == pytest.approx(22.34, rel=REL)
    assert an.area_mm2_by_block["adc"] / an.area_mm2 == pytest.approx(0.642, rel=REL)
    assert an.power_w_by_block["adc"] / an.power_w == pytest.approx(0.55, rel=REL)
    assert an.power_w_by_block["adc"] / (24 * 512) == pytest.approx(1e-3, rel=0.01)  # ~1 mW per ADC
    assert dg.area_mm2 == pytest.approx(64.05, rel=REL)
    assert dg.power_w == pytest.approx(52.26, rel=REL)
    assert dg.area_mm2_by_block["sfu"] / 8 == pytest.approx(4.79, rel=REL)
    assert dg.power_w_by_block["sfu"] / 8 == pytest.approx(0.13889, rel=REL)


def test_base_inheritance_overrides_only_mapping():
    slc, hy = load_spec("all_slc"), load_spec("hyflexpim")
    assert isinstance(slc, PimSpec) and slc.mapping.weights == "all_slc"
    assert slc.analog == hy.analog and slc.digital == hy.digital


@pytest.mark.parametrize("override, field", [
    ({"analog": {"arrays": 0}}, "analog.arrays"),
    ({"analog": {"rows": -64}}, "analog.rows"),
    ({"pu": {"digital_modules": 0}}, "pu.digital_modules"),
    ({"chip": {"max_chips": 0}}, "chip.max_chips"),
    ({"mapping": {"mlc_throughput": "magic"}}, "mapping.mlc_throughput"),
    ({"analog": {"adc": "no_such_adc"}}, "analog.adc"),
    ({"analog": {"extra_key": 1}}, "analog.extra_key"),
])
def test_bad_spec_names_the_field(override, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        load_spec("hyflexpim", override)


def test_negative_component_energy(tmp_path):
    lib = tmp_path / "lib.yaml"
    lib.write_text("components:\n  sar_adc: {action: conversion, area_um2: 1, energy_pj: -1}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"base: hyflexpim\nlibrary: {lib.name}\n")
    with pytest.raises(UserError, match=r"components\.sar_adc\.energy_pj"):
        load_spec(str(spec))


def test_unknown_spec_name():
    with pytest.raises(UserError, match="hyflexpim"):
        load_spec("nonexistent_spec")
