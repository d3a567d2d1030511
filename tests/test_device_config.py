"""Bad device-noise configuration is refused with one UserError line that names the field."""

import pytest
import torch

from hyflexpim.device import error_rate as er
from hyflexpim.device.noise import make_noise_model
from hyflexpim.errors import UserError
from hyflexpim.methods.noise.levels.accuracy import LevelsNoise, LevelsNoiseConfig, random_cells

BAD = [
    (dict(mlc={"levels_us": [1.0, 50.0, 40.0, 160.0]}), "mlc.levels_us"),
    (dict(slc={"levels_us": [5.0, 5.0]}), "slc.levels_us"),
    (dict(mlc={"levels_us": [1.0, 2.0, 3.0]}), "mlc.levels_us"),
    (dict(mlc_bits_per_cell=5), "mlc_bits_per_cell"),
    (dict(mlc_bits_per_cell=1), "mlc_bits_per_cell"),
    (dict(mlc={"error_rate": 0.5}), "mlc.error_rate"),
    (dict(slc={"error_rate": 0.0}), "slc.error_rate"),
    (dict(mlc={"error_rate": -0.1}), "mlc.error_rate"),
    (dict(mlc={"sigma_us": -1.0}), "mlc.sigma_us"),
    (dict(slc={"sigma_us": [1.0, -2.0]}), "slc.sigma_us"),
    (dict(mlc={"sigma_us": [1.0, 2.0]}), "mlc.sigma_us"),
    (dict(mlc={"sigma_us": 3.0, "error_rate": 0.04}), "mlc.error_rate"),
    (dict(read_sigma_us=-0.5), "read_sigma_us"),
    (dict(read_sigma_us=1000.0), "read_sigma_us"),
    (dict(relaxation_per_decade=-0.1), "relaxation_per_decade"),
    (dict(stuck_on_rate=-0.01), "stuck_on_rate"),
    (dict(stuck_off_rate=1.5), "stuck_off_rate"),
    (dict(stuck_on_rate=0.6, stuck_off_rate=0.6), "stuck_on_rate + stuck_off_rate"),
    (dict(r_on_ohm=0.0), "r_on_ohm"),
    (dict(r_on_ohm=-6000.0), "r_on_ohm"),
    (dict(on_off_ratio=1.0), "on_off_ratio"),
    (dict(slc_error_ratio=0.5), "slc_error_ratio"),
    (dict(calibration_time_s=0.0), "calibration_time_s"),
    (dict(no_such_field=1), "no_such_field"),
    (dict(mlc={"no_such_field": 1}), "mlc.no_such_field"),
    (dict(sigma_profile="gaussian"), "sigma_profile"),
    (dict(slc_rule="ideal"), "slc_rule"),
    (dict(slc_rule="same_device", mlc={"sigma_us": [1.0, 2.0, 3.0, 4.0]}), "slc_rule"),
]


@pytest.mark.parametrize("params,field", BAD, ids=[f for _, f in BAD])
def test_bad_config_one_line_naming_field(params, field):
    with pytest.raises(UserError) as exc:
        make_noise_model("levels", **params)
    msg = str(exc.value)
    assert "\n" not in msg and f"{field}:" in msg, msg


def test_model_validate_also_user_error():
    with pytest.raises(UserError, match=r"slc.error_rate"):
        LevelsNoiseConfig.model_validate({"slc": {"error_rate": 0.7}})


def test_cells_width_must_match_config():
    m = LevelsNoise()  # serves 1 and 2 bits
    cells = random_cells(3, 10, torch.Generator().manual_seed(0))
    with pytest.raises(UserError, match="mlc_bits_per_cell"):
        m.program(cells, torch.Generator())
    ok = LevelsNoise(mlc_bits_per_cell=3)
    assert ok.program(cells, torch.Generator()).shape == cells.digits.shape


@pytest.mark.parametrize("call,field", [
    (lambda: er.sigma_equal_spacing(0.04, 5), "bits_per_cell"),
    (lambda: er.sigma_equal_spacing(0.04, 0), "bits_per_cell"),
    (lambda: er.sigma_for_error_rate(0.6, [0, 1]), "error_rate"),
    (lambda: er.relaxation_factor(-1.0, 0.2), "t_seconds"),
])
def test_bad_calibration_arguments(call, field):
    with pytest.raises(UserError, match=field):
        call()
