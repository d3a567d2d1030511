"""Silicon validation: the component library against published RRAM macros (hyflexpim.hw.silicon, docs/hw.md).

The tolerances below are the ones stated in docs/hw.md ("Silicon validation"): each is the measured error rounded
up a little, so a change that moves any figure further from its published value fails here. A figure is held to
a factor F (model within published / F .. published x F); an energy share to F percentage points.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyflexpim.chip.macro import MACROS, AnalogMacro, load_fits, load_macro
from hyflexpim.chip.spec import load_spec
from hyflexpim.errors import UserError
from hyflexpim.hw import silicon

# (macro, figure) -> tolerance: a factor for figures, percentage points for energy shares (docs/hw.md)
FITTED = {  # the default: adc_energy_scale fitted to li_asscc2025 TOPS/W
    ("li_asscc2025", "tops_per_w"): 1.1,
    ("li_asscc2025", "mvm_latency_ns"): 1.8,
    ("li_asscc2025", "mvm_latency_ns (library ADC rate)"): 94,
    ("li_asscc2025", "tops_per_mm2"): 22,
    ("li_asscc2025", "energy share: array"): 55,
    ("li_asscc2025", "energy share: periphery"): 55,
    ("neurram_nature2022", "tops_per_w"): 35,
    ("neurram_nature2022", "mvm_latency_ns"): 2.2,
    ("neurram_nature2022", "mvm_latency_ns (library ADC rate)"): 1100,
    ("neurram_nature2022", "tops_per_mm2"): 1.8,
    ("neurram_nature2022", "energy share: neuron_ops_and_control"): 55,
    ("neurram_nature2022", "energy share: wl_switching"): 35,
    ("neurram_nature2022", "energy share: input_pulses"): 20,
    ("racer_micro2021", "energy per NOR gate"): 4.1,
    ("racer_micro2021", "latency per NOR gate"): 3.2,
    ("racer_micro2021", "gates per INT8 multiply (haj_ali_2018)"): 1.1,
    ("racer_micro2021", "gates per INT8 multiply (rime_2021)"): 3.3,
    ("racer_micro2021", "gates per INT8 multiply (multpim_2021)"): 5.5,
    ("racer_micro2021", "energy per INT8 multiply (Haj-Ali, same gates)"): 4.1,
    ("wei_sscl2025", "tops_per_w"): 22,
    ("wei_sscl2025", "mvm_latency_ns"): 1.7,
    ("wei_sscl2025", "mvm_latency_ns (library ADC rate)"): 47,
    ("wei_sscl2025", "energy share: input_driver"): 35,
    ("wei_sscl2025", "energy share: array"): 25,
    ("wei_sscl2025", "energy share: tdc"): 60,
    ("wei_sscl2025", "energy share: others"): 5,
    ("yao_esserc2024", "tops_per_w"): 3.7,
    ("yao_esserc2024", "mvm_latency_ns"): 2,
    ("yao_esserc2024", "mvm_latency_ns (library ADC rate)"): 73,
    ("yao_esserc2024", "tops_per_mm2"): 97,
    ("yao_esserc2024", "energy share: bl_buffers_and_cells"): 45,
    ("yao_esserc2024", "energy share: adc"): 30,
    ("yao_esserc2024", "energy share: dac"): 25,
    ("yao_esserc2024", "energy share: digital_and_driver"): 10,
}
UNFITTED = {  # --no-fit: the library as it is (only the figures the fit moves)
    ("li_asscc2025", "tops_per_w"): 3,
    ("li_asscc2025", "energy share: array"): 5,
    ("neurram_nature2022", "tops_per_w"): 2.2,
    ("neurram_nature2022", "energy share: neuron_ops_and_control"): 40,
    ("wei_sscl2025", "tops_per_w"): 3.1,
    ("wei_sscl2025", "energy share: tdc"): 10,
    ("yao_esserc2024", "tops_per_w"): 8.8,
    ("yao_esserc2024", "energy share: dac"): 75,
}


def _within(row, tol) -> bool:
    if row.share:
        return abs(row.error) <= tol
    ratio = row.model / row.published
    return 1 / tol <= ratio <= tol


@pytest.mark.parametrize("fit,table", [(True, FITTED), (False, UNFITTED)])
def test_every_validation_error_within_its_stated_tolerance(fit, table):
    rows = {(r.macro, r.figure): r for r in silicon.validate(fit=fit)}
    compared = {k for k, r in rows.items() if r.published is not None}
    if fit:
        assert compared == set(table), "every published figure has a stated tolerance (and only those)"
    outside = {k: (rows[k].model, rows[k].published) for k, tol in table.items() if not _within(rows[k], tol)}
    assert not outside, f"left their stated tolerance: {outside}"


def test_at_least_four_measured_rram_macros_one_multi_level_and_a_digital_reference():
    macros = [load_macro(n) for n in MACROS.names()]
    analog = [m for m in macros if isinstance(m, AnalogMacro)]
    assert len(analog) >= 4 and all(m.silicon == "measured" for m in analog)
    assert any(m.design.bits_per_cell.value >= 2 for m in analog)
    assert any(m.kind == "digital" for m in macros)
    for m in analog:  # every design value carries its source (the schema refuses one without)
        for name in type(m.design).model_fields:
            assert len(getattr(m.design, name).source) >= 3, (m.name, name)


def test_the_fitted_parameter_is_named_in_its_file_and_is_the_only_fitted_figure():
    fits = load_fits()
    assert set(fits.fits) == {"adc_energy_scale"}
    f = fits.fits["adc_energy_scale"]
    assert (f.macro, f.figure) == ("li_asscc2025", "tops_per_w")
    rows = silicon.validate()
    fitted = [(r.macro, r.figure) for r in rows if r.status == "fitted"]
    assert fitted == [("li_asscc2025", "tops_per_w")]
    assert abs(next(r for r in rows if r.status == "fitted").error) < 1e-9  # the fit hits its own figure
    assert not [r for r in silicon.validate(fit=False) if r.status == "fitted"]
    header = " ".join(silicon.header_lines())
    assert "adc_energy_scale" in header and "li_asscc2025" in header


def test_scaling_rules_and_the_mvm_count():
    assert silicon.cmos_energy_scale(65, 1.0) == 1.0
    assert silicon.cmos_energy_scale(32.5, 0.5) == pytest.approx(0.125)
    assert silicon.area_scale(32.5) == pytest.approx(0.25)
    spec, m = load_spec("hyflexpim"), load_macro("li_asscc2025")
    base = silicon.price(m, spec)
    assert base.ops == 2 * 512 * 512
    half = m.model_copy(update={"design": m.design.model_copy(update={"node_nm": m.design.node_nm.model_copy(
        update={"value": 14.0})})})
    small = silicon.price(half, spec)
    assert small.energy_pj["adc"] == pytest.approx(base.energy_pj["adc"] / 2)
    assert small.energy_pj["arrays"] == pytest.approx(base.energy_pj["arrays"])  # a device property
    assert small.area_mm2["adc"] == pytest.approx(base.area_mm2["adc"] / 4)
    fewer = m.model_copy(update={"design": m.design.model_copy(update={"adcs": m.design.adcs.model_copy(
        update={"value": 256.0})})})
    assert silicon.price(fewer, spec).latency_ns == pytest.approx(2 * base.latency_ns)


def test_a_missed_figure_names_what_would_have_to_change():
    rows = silicon.validate()
    missed = [r for r in rows if r.missed and r.status == "predicted" and not r.share]
    assert missed and all(r.needed for r in missed)
    lat = next(r for r in rows if (r.macro, r.figure) == ("li_asscc2025", "mvm_latency_ns"))
    assert "15 clock cycles" in lat.needed  # 30 ns at 500 MHz


def _cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "hw", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_cli_validate_prints_and_writes_the_table(tmp_path):
    r = _cli("validate", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "fitted: adc_energy_scale" in r.stdout and "yao_esserc2024" in r.stdout
    data = json.loads((tmp_path / "silicon_validation.json").read_text())
    assert len(data["rows"]) == len(silicon.validate())
    assert (tmp_path / "silicon_validation.csv").read_text().startswith("macro,figure,unit,model,published,error")


@pytest.mark.parametrize("text,word", [
    ("kind: analog\nname: x\n", "reference"),
    ("kind: optical\n", "kind"),
    (Path(MACROS.get("yao_esserc2024")).read_text().replace("{value: 28, source", "{value: -28, source"), "node_nm"),
    (Path(MACROS.get("yao_esserc2024")).read_text().replace('source: "[A] \'28 nm\'"', 'source: ""'), "source"),
])
def test_cli_bad_macro_spec_is_one_line_exit_2(tmp_path, text, word):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = _cli("validate", "--macros", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and word in lines[0], r.stderr
    with pytest.raises(UserError):
        load_macro(bad)


def test_a_fit_that_cannot_be_made_is_one_line(tmp_path):
    spec = load_spec("hyflexpim")
    digital = tmp_path / "fits.yaml"
    digital.write_text("fits:\n  adc_energy_scale:\n    macro: racer_micro2021\n    figure: tops_per_w\n"
                       "    why: a digital design has no ADC to fit\n")
    with pytest.raises(UserError, match="racer_micro2021"):
        silicon.fitted_parameters(spec, load_fits(digital))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("fits:\n  adc_energy_scale:\n    macro: nope\n    figure: tops_per_w\n"
                       "    why: not a macro here\n")
    with pytest.raises(UserError, match="nope"):
        load_fits(unknown)
