"""Modules that only a script, a figure or a browser reaches, each with a fast check of what it does (so that the
fast loop, `pytest -m "not slow"`, loads every module: scripts/fast_loop_coverage.py)."""

import subprocess
import sys

import pytest

from hyflexpim.device.error_rate import ONE_DAY_S, ONE_HOUR_S, ONE_MONTH_S, T0_S
from hyflexpim.device.slicing import ENCODINGS
from hyflexpim.methods.noise.levels.accuracy import LevelsNoise
from hyflexpim.methods.noise.levels.calibration import main as calibration
from hyflexpim.report import browser
from hyflexpim.report.rank_plots import plot_learned_ranks


def test_the_calibration_script_prints_the_expected_rates_and_their_check(capsys):
    calibration(["--cells", "5000", "--seed", "1"])
    out = capsys.readouterr().out
    model = LevelsNoise(mlc_bits_per_cell=2, sigma_profile="flat", slc_rule="error_ratio")  # the script's defaults
    for bits in (1, 2):
        for name, t in (("1 s", T0_S), ("1 h", ONE_HOUR_S), ("1 day", ONE_DAY_S), ("1 month", ONE_MONTH_S)):
            expected = f"{model.expected_error_rate(bits, t):10.3e}"
            assert any(ln.split()[:len(name.split())] == name.split() and expected in ln for ln in out.splitlines()), \
                (bits, name, expected)
    table = out.split("INT8 weight error")[1].splitlines()[2:]
    assert [ln.split()[0] for ln in table if ln.strip()] == list(ENCODINGS)


def test_the_cost_sweeps_headline_runs_without_torch():
    code = "import sys, hyflexpim.hw.sweep as sweep; sweep.headline(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) > 2 and lines[-1] == "False"  # the cost side needs no torch


def test_the_learned_rank_figure_is_a_png(tmp_path):
    matrices = {f"l{i}.{role}": (i, role, (32, 64)) for i in range(2) for role in ("q", "ffn_in")}
    ranks = {name: 8 + 4 * i for i, name in enumerate(matrices)}
    path = plot_learned_ranks(ranks, matrices, tmp_path / "ranks.png", budget=0.5, title="tiny")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_the_browser_check_names_what_is_missing(tmp_path, monkeypatch):
    fake = tmp_path / "chrome"
    fake.write_text("")
    monkeypatch.setenv("HYFLEXPIM_CHROMIUM", str(fake))
    assert browser.chromium() == str(fake)
    monkeypatch.setenv("HYFLEXPIM_CHROMIUM", str(tmp_path / "missing"))
    assert browser.chromium() is None
    why = browser.available()
    assert why is not None and ("Chromium" in why or "Playwright" in why)


@pytest.mark.parametrize("argv", [["--slc-rule", "nope"], ["--cells", "x"]])
def test_the_calibration_script_refuses_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        calibration(argv)
    assert e.value.code == 2 and "error:" in capsys.readouterr().err
