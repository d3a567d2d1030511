"""Bit slicing reconstructs INT8 codes exactly, and the levels noise model keeps that exactness when noise-free."""

import pytest
import torch

from hyflexpim.device.noise import make_noise_model
from hyflexpim.device.slicing import ENCODINGS, slice_int8

CODES = torch.arange(-127, 128).reshape(5, 51)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_slicing_exact(encoding, bits):
    cells = slice_int8(CODES, bits, encoding)
    assert torch.equal(cells.reconstruct().to(torch.int64), CODES)
    assert cells.levels.min() >= 0 and cells.levels.max() <= 2 ** bits - 1
    assert torch.equal(cells.levels, cells.levels.round())
    shift = cells.digits - cells.levels
    if encoding != "twos_complement":
        assert torch.count_nonzero(shift) == 0
    else:  # only the top slice of negative codes is shifted, by -2^b
        assert torch.count_nonzero(shift[:, :-1]) == 0
        assert set(shift[:, -1].unique().tolist()) <= {0.0, -(2.0 ** bits)}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_noise_free_levels_model_is_exact(encoding, bits):
    mlc_bits = max(bits, 2)
    model = make_noise_model("levels", mlc_bits_per_cell=mlc_bits, read_sigma_us=0.0,
                             slc={"sigma_us": 0.0}, mlc={"sigma_us": 0.0})
    cells = slice_int8(CODES, bits, encoding)
    g = torch.Generator().manual_seed(0)
    v = model.read(model.drift(model.program(cells, g), cells, 86400.0, g), cells, g)
    torch.testing.assert_close(v, cells.digits, atol=1e-4, rtol=0)
    assert torch.equal(cells.reconstruct(v).round().to(torch.int64), CODES)
    assert model.level_error_rate(v, cells) == 0.0


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ideal_types_return_digits(encoding):
    model = make_noise_model("levels", slc={"ideal": True}, mlc={"ideal": True})
    assert not model.has_read_noise
    for bits in (1, 2):
        cells = slice_int8(CODES, bits, encoding)
        g = torch.Generator().manual_seed(0)
        v = model.read(model.drift(model.program(cells, g), cells, 1e7, g), cells, g)
        assert torch.equal(v, cells.digits)
