"""The column ADC of an analog RRAM array: configuration, step size, conversion and its error variance.

One conversion digitises one column's partial sum P (a non-negative, conductance-like sum over at most
``rows_per_array`` rows, for one input bit and one weight slice) into a ``b``-bit code 0..2^b−1:

    code = clamp(round(P / LSB + noise), 0, 2^b − 1),   output = code · LSB

The step ``LSB`` (``adc_range``):

- ``"level_step"`` (default): LSB = one cell level, so the ADC reads 0..2^b−1 levels and saturates above.
  With the paper's 6-bit SLC / 7-bit MLC ADCs on 64-row arrays this covers 0..63 of the possible 0..64
  (SLC) and 0..127 of 0..192 (MLC): sums are exact unless a column collects more than that, which needs
  most of the 64 inputs' current bit set on high-level cells (rare on real activations: the error is
  clipping only). This is our reading of "7-bit in MLC mode, 6-bit in SLC mode": b = log2(rows) +
  bits_per_cell − 1.
- ``"full_scale"``: range R = rows × max level (64 for SLC, 192 for 2-bit MLC), the largest sum the array
  can produce, so nothing clips, but the paper's bit counts then give LSB = 2 levels (one bit short of
  exact) and a rounding error on every conversion — large after the ×2^7 (input MSB) × 2^6 (weight MSB
  slice) shift-and-add (30–60 % relative error on random data, see docs/circuit.md).
- ``"calibrated"``: R per (group, slice) measured on calibration activations
  (:func:`hyflexpim.sim.analog_mvm.calibrate_adc_range`, a high percentile of the observed partial sums);
  sums above R clip.

For full_scale and calibrated, ``adc_step`` sets LSB from R:

- ``"pow2"`` (default): LSB = the smallest power of two with (2^b − 1)·LSB ≥ R. The code then lines up
  with the digital shift-and-add (the ADC drops low-order bits), and an ADC with enough bits
  (b ≥ log2(R + 1)) is exact on ideal cells.
- ``"uniform"``: LSB = R / (2^b − 1), the full code range spread over R.

``torch.round`` rounds halves to even. On integer sums (ideal cells) with a power-of-two LSB ≥ 2 the
error is then a discrete uniform variable with variance (LSB² + 2)/12; on continuous sums (noisy cells)
it is LSB²/12 — :func:`conversion_variance` returns the one that applies; :func:`rounding_moments`
generalises it to noisy cells (the statistical mode).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import ConfigDict, Field, ValidationError

from hyflexpim.config import Strict, config_error
from hyflexpim.errors import UserError


class CircuitConfig(Strict):
    """How one analog weight part is computed: arrays, bit-serial inputs, ADCs.

    Defaults are the built-in chip's (``hyflexpim.chip``, spec ``hyflexpim``): 64-row arrays, 8-bit
    activations applied one bit per cycle, a 6-bit ADC for SLC arrays and a 7-bit one for MLC arrays,
    one LSB per cell level (saturating). In a run, ``rows_per_array``, ``input_bits`` and the ADC bits
    not set explicitly are taken from the run's chip spec (``hardware.spec``), and set ones override it.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    config_name = "CircuitConfig"
    CHIP_FIELDS: ClassVar[dict[str, str]] = {"rows_per_array": "rows", "input_bits": "input_bits",
                                             "adc_bits_slc": "adc_bits_slc", "adc_bits_mlc": "adc_bits_mlc",
                                             "adc_range": "adc_range"}  # field -> the spec's analog.<field>

    rows_per_array: int = Field(64, ge=1, description="rows summed by one column (inputs per partial sum)")
    input_bits: int = Field(8, ge=2, le=16,
                            description="signed activation bits, applied bit-serially (two's complement)")
    input_quant: Literal["per_token", "fixed"] = Field(
        "per_token", description="per_token: dynamic symmetric scale max|x_row|/(2^(B-1)-1) per row of x; "
        "fixed: a calibrated scale passed as analog_matmul(x_scale=...)")
    adc_bits_slc: int = Field(6, ge=1, le=24, description="ADC bits of arrays of 1-bit cells")
    adc_bits_mlc: int = Field(7, ge=1, le=24, description="ADC bits of arrays of 2..4-bit cells")
    adc_range: Literal["level_step", "full_scale", "calibrated"] = Field(
        "level_step", description="level_step: LSB = one cell level (saturating); full_scale: range = rows × max "
        "level; calibrated: range from calibrate_adc_range")
    adc_step: Literal["pow2", "uniform"] = "pow2"
    adc_noise_lsb: float = Field(0.0, ge=0, description="σ of Gaussian ADC input noise, in LSB (0 = none)")
    adc_mode: Literal["exact", "statistical"] = Field(
        "exact", description="exact: every partial sum converted; statistical: exact product plus Gaussian "
        "noise of the conversions' summed variance (one matmul)")
    stat_bit_density: float = Field(0.5, ge=0, le=1, description="statistical mode: assumed fraction of 1 bits "
                                    "in an input bit plane (sets the typical cell noise of one partial sum)")
    memory_budget_mb: float = Field(256.0, gt=0, description="largest per-chunk intermediate (ADC codes of a chunk "
                                    "of tokens); tokens are processed in chunks under it")
    tile_mb: float = Field(6.0, gt=0, description="partial sums are made and converted in tiles of this size "
                           "(cache-resident ADC passes)")
    calib_percentile: float = Field(99.99, gt=0, le=100,
                                    description="percentile of partial sums used as calibrated ADC range")

    def __setattr__(self, name, value):
        try:
            super().__setattr__(name, value)
        except ValidationError as e:
            raise config_error(e, self.config_name, type(self)) from None

    def adc_bits(self, bits_per_cell: int) -> int:
        return self.adc_bits_slc if bits_per_cell == 1 else self.adc_bits_mlc


def full_scale(rows: int, bits_per_cell: int) -> float:
    """Largest partial sum of one column: rows × max level."""
    return float(rows * ((1 << bits_per_cell) - 1))


def adc_lsb(range_: torch.Tensor | float, bits: int, step: str = "pow2") -> torch.Tensor:
    """ADC step for a range R (scalar or tensor) and ``bits`` bits (see module doc)."""
    r = torch.as_tensor(range_, dtype=torch.float64).clamp_min(1e-12)
    top = float((1 << bits) - 1)
    if step == "pow2":
        return torch.exp2(torch.ceil(torch.log2(r / top)))
    if step == "uniform":
        return r / top
    raise UserError(f"CircuitConfig.adc_step must be 'pow2' or 'uniform'; got {step!r}")


def convert_(p: torch.Tensor, bits: int, noise_lsb: float = 0.0,
             generator: torch.Generator | None = None, clip: bool = True, round_: bool = True) -> torch.Tensor:
    """In place: partial sums already expressed in LSB units -> integer codes 0..2^b−1 (in LSB units).

    ``clip=False`` / ``round_=False`` skip a pass the caller knows to be a no-op (sums that cannot leave the
    range / that are already integers)."""
    if noise_lsb > 0:
        p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device), alpha=noise_lsb)
        round_ = clip = True
    if round_:
        p.round_()
    if clip:
        p.clamp_(0, float((1 << bits) - 1))
    return p


def conversion_variance(lsb: torch.Tensor, integer_sums: bool, step: str = "pow2",
                        noise_lsb: float = 0.0) -> torch.Tensor:
    """Variance of one conversion's error (clipping ignored), in the units of the partial sum."""
    lsb = torch.as_tensor(lsb, dtype=torch.float64)
    if integer_sums and step == "pow2" and noise_lsb == 0:
        # integer sums on a power-of-two grid: exact when LSB <= 1, else a discrete error whose ties
        # (round half to even) have magnitude LSB/2: variance (LSB^2 + 2)/12.
        var = torch.where(lsb <= 1, torch.zeros_like(lsb), (lsb ** 2 + 2) / 12)
    else:
        var = lsb ** 2 / 12
    return var + (noise_lsb * lsb) ** 2


def needed_bits(rows: int, bits_per_cell: int) -> int:
    """ADC bits for an exact conversion of a full-scale column of ideal cells."""
    return int(math.ceil(math.log2(full_scale(rows, bits_per_cell) + 1)))


def rounding_moments(sigma_lsb: float, lsb_levels: float, noise_lsb: float = 0.0) -> tuple[float, float]:
    """How a conversion's error relates to the cell noise in its partial sum (for the statistical mode).

    The ideal partial sum P0 is an integer number of levels; the cells add ε ~ N(0, σ²) and the ADC input
    noise η ~ N(0, noise_lsb²) (all in LSB units); the code is round(P0/LSB + ε + η). Over the residues of
    P0/LSB (uniform; one residue when LSB ≤ 1 level), the output error vs the ideal sum, e = code − P0/LSB,
    is regressed on ε: e = β·ε + r, r uncorrelated with ε (β capped to [0, 1]). Returns (β, var(r)) in LSB
    units.
    β → 1 and var(r) → 1/12 (+η²) when σ ≫ 1 LSB (the ADC adds uniform rounding noise to the noisy sum);
    β → 0 when σ ≪ 1 LSB on a one-level LSB (the ADC rounds the cell noise away).
    When the LSB is not on the level lattice (uniform / calibrated steps) the residues are not known:
    returns (1, 1/12 + η²).
    """
    if lsb_levels >= 1 and abs(lsb_levels - round(lsb_levels)) < 1e-9:
        L = int(round(lsb_levels))
        r = torch.arange(L, dtype=torch.float64) / L
    elif lsb_levels < 1 and abs(1 / lsb_levels - round(1 / lsb_levels)) < 1e-9:
        r = torch.zeros(1, dtype=torch.float64)
    else:
        return 1.0, 1.0 / 12 + noise_lsb ** 2
    s_c = math.sqrt(sigma_lsb ** 2 + noise_lsb ** 2)
    if s_c < 1e-6:
        e = torch.round(r) - r  # half to even, as torch.round
        return 0.0, float((e ** 2).mean())
    step = min(s_c / 50, 0.01)
    half = 8 * s_c
    eps = torch.arange(-half, half + step / 2, step, dtype=torch.float64)
    w = torch.exp(-0.5 * (eps / s_c) ** 2)
    w = w / w.sum()
    e = torch.round(r.reshape(-1, 1) + eps.reshape(1, -1)) - r.reshape(-1, 1)  # [L, n]
    f = float((e ** 2 * w).sum(1).mean())
    beta = float((e * eps * w).sum(1).mean()) / s_c ** 2  # regression on ε + η (Stein: same β on ε)
    # capped at 1: with a tie residue (LSB ≥ 2 levels) and σ ≪ 1 the regression slope diverges (the error
    # is ±LSB/2 by the sign of ε); the capped-off part goes to the independent remainder instead.
    beta = min(max(beta, 0.0), 1.0)
    return beta, max(0.0, f - beta ** 2 * sigma_lsb ** 2)
