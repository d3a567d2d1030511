"""The device-requirement map's rule and settings (hyflexpim.pipeline.device_sweep); the end-to-end run is in
test_cli_run."""

import pytest

from hyflexpim.errors import UserError
from hyflexpim.pipeline.device_sweep import _hardware, _noise, check_grid, requirement
from hyflexpim.sim.config import HardwareConfig


def row(value, rate, diff, low):
    return {"value": value, "slc_rate": rate, "vs_int8": diff, "vs_int8_low": low}


def test_requirement_is_the_largest_value_with_every_better_device_within_tolerance():
    rows = [row(1e-4, 0, -0.002, -0.02), row(1e-3, 0, -0.008, -0.03), row(1e-2, 0, -0.05, -0.08),
            row(1e-4, 10, 0.001, -0.005), row(1e-3, 10, -0.012, -0.03), row(1e-2, 10, -0.004, -0.02)]
    need = requirement(rows, 0.01)
    assert need["0"] == {"point": 1e-3, "ci": None}
    # at 10 % the noisy 1e-2 point is back within 1 pt, but 1e-3 was not: the requirement stops at 1e-4
    assert need["10"] == {"point": 1e-4, "ci": 1e-4}


def test_the_noise_axis_changes_only_the_mlc_quality():
    levels = {"kind": "levels", "relaxation_per_decade": 0.3, "mlc": {"error_rate": 0.02}}
    base = HardwareConfig(noise=levels).resolved()  # a run's hardware is resolved
    hw = _hardware(base, _noise(base, "levels", 2e-3))
    assert hw.noise.mlc.error_rate == 2e-3 and hw.noise.mlc.sigma_us is None
    assert hw.noise.relaxation_per_decade == 0.3 and hw.encoding == base.encoding
    sigma = _hardware(base, _noise(base, "levels-sigma", 2.5))
    # a given σ replaces the calibrated error rate of the MLC cells only; the rest stays the run's
    assert sigma.noise.mlc.sigma_us == [2.5] and sigma.noise.mlc.error_rate is None
    assert sigma.noise.sigma_profile == "flat"  # one σ per device: SLC cells get the same µS
    assert sigma.noise.relaxation_per_decade == 0.3 and sigma.noise.slc == base.noise.slc
    paper = _hardware(base, _noise(base, "paper", 0.01))
    assert paper.noise.kind == "paper" and paper.noise.sigma_mlc == 0.01


@pytest.mark.parametrize("kind,grid", [("levels", [0.6]), ("paper", [0.0]), ("nope", [0.1]), ("levels", []),
                                       ("levels-sigma", [0.0]), ("levels-sigma", [5e3])])
def test_bad_grids_are_refused_in_one_line(kind, grid):
    with pytest.raises(UserError):
        check_grid(kind, grid)
