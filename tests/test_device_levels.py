"""The "levels" RRAM cell model: calibration to an error rate, seeds, read noise, drift, faults, encodings."""

import math

import pytest
import torch

from hyflexpim.device import error_rate as er
from hyflexpim.device.noise import make_noise_model
from hyflexpim.device.slicing import ENCODINGS, slice_int8
from hyflexpim.methods.noise.levels.accuracy import LevelsNoise, random_cells, simulate_error_rate

DAY = er.ONE_DAY_S


# Both cell types calibrated to their own error rate (SLC = MLC / 7), one σ for all levels: the
# configuration whose error rates the calibration tests check. The default derives SLC from MLC's σ.
CALIBRATED = dict(slc_rule="error_ratio", sigma_profile="flat")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_registered_and_defaults():
    m = make_noise_model("levels")
    assert isinstance(m, LevelsNoise) and m.has_read_noise
    assert m.g_on_us == pytest.approx(1e6 / 6000) and m.g_off_us == pytest.approx(1e6 / 6000 / 150)
    assert m.types[2].levels_us == pytest.approx([m.g_off_us + k * (m.g_on_us - m.g_off_us) / 3 for k in range(4)])
    assert m.types[2].error_rate == pytest.approx(0.0404)
    assert m.types[1].sigma0_us[0] > 0  # SLC is not ideal unless asked
    # default SLC rule: same device as MLC (its σ profile), so SLC's error rate follows from its wider spacing
    assert m.config.slc_rule == "same_device" and m.config.sigma_profile == "wan2022"
    ratio = LevelsNoise(slc_rule="error_ratio", sigma_profile="flat")
    assert ratio.types[1].error_rate == pytest.approx(0.0404 / 7)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_closed_form_matches_bisection(bits):
    n = 2 ** bits
    s_cf = er.sigma_equal_spacing(0.0404, bits)
    s_bi = er.sigma_for_error_rate(0.0404, list(range(n)))
    assert s_bi == pytest.approx(s_cf, rel=1e-9)
    assert er.level_error_rate(list(range(n)), s_cf) == pytest.approx(0.0404, rel=1e-9)


def test_calibration_nonlinear_levels_and_per_level_shape():
    levels, shape = [1.0, 20.0, 90.0, 160.0], [0.2, 1.0, 1.5, 1.0]
    s = er.sigma_for_error_rate(0.03, levels, shape)
    assert er.level_error_rate(levels, [s * x for x in shape]) == pytest.approx(0.03, rel=1e-9)
    m = make_noise_model("levels", mlc={"levels_us": levels, "error_rate": 0.03})
    assert m.expected_error_rate(2, DAY) == pytest.approx(0.03, rel=1e-9)


@pytest.mark.parametrize("bits,n_cells", [(2, 1_000_000), (1, 8_000_000)])
def test_calibrated_sigma_reproduces_error_rate(bits, n_cells):
    # SLC's rate (0.58 %) has a binomial relative s.e. of 1.3 % at 1e6 cells, so 2 % needs ~8e6 cells there.
    m = LevelsNoise(**CALIBRATED)
    target = m.types[bits].error_rate
    assert m.expected_error_rate(bits, DAY) == pytest.approx(target, rel=1e-9)
    measured = simulate_error_rate(m, bits, DAY, n_cells=n_cells, seed=1)
    assert abs(measured - target) / target < 0.02, (measured, target)


def test_seeds_bit_identical_and_different():
    m = LevelsNoise(stuck_on_rate=0.01, stuck_off_rate=0.01)
    cells = slice_int8(torch.randint(-127, 128, (64, 48), generator=gen(5)), 2, "offset")

    def run(seed):
        g = gen(seed)
        return m.read(m.drift(m.program(cells, g), cells, DAY, g), cells, g)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_read_noise_fresh_each_read_programming_fixed():
    m = LevelsNoise()
    cells = slice_int8(torch.randint(-127, 128, (32, 32), generator=gen(1)), 2, "differential")
    p1, p2 = m.program(cells, gen(7)), m.program(cells, gen(7))
    assert torch.equal(p1, p2)
    keep = p1.clone()
    rg = gen(8)
    r1, r2 = m.read(p1, cells, rg), m.read(p1, cells, rg)
    assert not torch.equal(r1, r2) and not torch.equal(r1, p1)
    assert torch.equal(p1, keep)  # reading does not change what is stored
    std = (r1 - p1).std().item() * m.types[2].spacing_us
    assert std == pytest.approx(m.read_sigma_us, rel=0.05)
    quiet = LevelsNoise(read_sigma_us=0.0)
    assert not quiet.has_read_noise and quiet.read(p1, cells, rg) is p1


def test_drift_error_rate_increases_with_time():
    m = LevelsNoise(**CALIBRATED)
    times = [er.T0_S, er.ONE_HOUR_S, DAY, er.ONE_MONTH_S]
    for bits in (1, 2):
        expected = [m.expected_error_rate(bits, t) for t in times]
        assert expected == sorted(expected) and len(set(expected)) == 4
    sim = [simulate_error_rate(m, 2, t, n_cells=200_000, seed=2) for t in times]
    assert sim == sorted(sim) and sim[0] < 0.01 < 0.04 * 1.1 < sim[3]
    cells = random_cells(2, 1000, gen())
    v = m.program(cells, gen())
    assert m.drift(v, cells, 0.0, gen()) is v  # no relaxation before t0 = 1 s


def test_stuck_faults_binomial():
    p_on, p_off, n = 0.01, 0.02, 1_000_000
    m = LevelsNoise(stuck_on_rate=p_on, stuck_off_rate=p_off)
    cells = random_cells(2, n, gen(3))
    u = m.program(cells, gen(4))
    t = m.types[2]
    for p, g_us in ((p_on, m.g_on_us), (p_off, m.g_off_us)):
        count = int((u == t.to_level(g_us)).sum())
        assert abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p)), (count, n * p)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encodings_unbiased_with_expected_spread(encoding):
    """Every cell (zero-level ones too) gets σ0; the weight error is Σ place²·σ0² per group, mean 0."""
    m = LevelsNoise(**CALIBRATED)
    q = torch.randint(-127, 128, (400, 500), generator=gen(9))
    cells = slice_int8(q, 2, encoding)
    err = cells.reconstruct(m.program(cells, gen(10))) - q
    s = m.types[2].sigma0_us[0] / m.types[2].spacing_us
    groups = 2 if encoding == "differential" else 1
    expected = s * math.sqrt(groups * float((cells.place ** 2).sum()))
    assert err.std().item() == pytest.approx(expected, rel=0.03)
    assert abs(err.mean().item()) < 4 * expected / math.sqrt(q.numel())
    if encoding == "differential":  # zero weights are stored as two G_off cells per slice: noisy too
        assert err[q == 0].std().item() > 0.5 * expected


def test_clip_negative_conductance():
    m = LevelsNoise(clip_negative_conductance=True)
    cells = random_cells(2, 100_000, gen())
    v = m.drift(m.program(cells, gen()), cells, er.ONE_MONTH_S, gen(1))
    t = m.types[2]
    assert v.min().item() >= t.to_level(0.0) - 1e-6
    assert (LevelsNoise().program(cells, gen()).min().item()) < t.to_level(0.0)  # default keeps the tail


def test_wan2022_profile_calibrates_and_simulates():
    m = LevelsNoise(sigma_profile="wan2022")
    s = m.types[2].sigma0_us
    assert s[0] < s[3] < s[2] < s[1]  # G_off most stable, middle levels least (Wan et al. 2022 shape)
    assert m.expected_error_rate(2, DAY) == pytest.approx(0.0404, rel=1e-9)
    assert abs(simulate_error_rate(m, 2, DAY, n_cells=1_000_000, seed=1) / 0.0404 - 1) < 0.02


@pytest.mark.parametrize("profile", ["flat", "wan2022"])
def test_slc_same_device_shares_mlc_sigma(profile):
    m = LevelsNoise(sigma_profile=profile, slc_rule="same_device")
    slc, mlc = m.types[1], m.types[2]
    assert slc.sigma0_us[0] == pytest.approx(mlc.sigma0_us[0]) and slc.sigma0_us[1] == pytest.approx(mlc.sigma0_us[3])
    assert 0 < m.expected_error_rate(1, DAY) < 1e-6 and slc.error_rate is None
    cells = random_cells(1, 1000, gen())
    assert not torch.equal(m.program(cells, gen()), cells.digits)  # not ideal
