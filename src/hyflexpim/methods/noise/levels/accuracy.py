"""Device-level RRAM noise: discrete conductance levels, programming noise, relaxation, read noise, faults.

One ``LevelsNoise`` instance serves SLC cells (``bits_per_cell == 1``) and MLC cells
(``bits_per_cell == mlc_bits_per_cell``) of the same matrix; kind ``"levels"`` (registered from this folder's
``__init__``).

Cell model (all conductances in µS; a level is a conductance target G_k, k = 0..L-1):

- Targets: by default L levels linearly spaced from G_off to G_on (G_on = 1/R_on,
  G_off = G_on/on_off_ratio); ``levels_us`` overrides them (strictly increasing).
- The periphery maps a conductance G back to the level scale linearly between the lowest and
  highest target: u = (G - G_0)/d, d = (G_{L-1} - G_0)/(L-1). The simulator sees
  digit = u + (digits - levels), the exact shift of the encoding (slicing.py).
- ``program`` (t0 = 1 s after programming): G = G_k + σ0_k·N(0,1); stuck-at-G_on / stuck-at-G_off
  cells (drawn here, at rates ``stuck_on_rate`` / ``stuck_off_rate``) hold G_on / G_off instead.
- ``drift`` to time t: conductance relaxation widens the spread linearly in log time,
  σ(t) = σ0·f(t), f(t) = 1 + c·log10(t/t0), c = ``relaxation_per_decade``; implemented as an
  independent Gaussian increment of σ0·sqrt(f(t)² - 1) on the programmed values. The same seed at
  two times gives the same cell-by-cell path (scaled). No mean shift (aihwkit's fit of Wan et al.
  2022 models relaxation as a widening only). Stuck cells relax like the others.
- ``read``: a fresh additive Gaussian of σ_read per call (1/f and telegraph read noise).
- Calibration (error-rate definition in error_rate.py): unless ``sigma_us`` is given, the σ of each
  level at ``calibration_time_s`` (default one day) is s·shape_k, shape from ``sigma_profile``
  ("flat": one σ; "wan2022": Wan et al.'s σ(G)), and s is solved so that one read there,
  sqrt((s·shape_k)² + σ_read²), gives the target level error rate; σ0_k = s·shape_k / f(t_cal).
  SLC: its own target (MLC rate / ``slc_error_ratio``) or, with ``slc_rule="same_device"``, the
  MLC's s and profile (the SLC rate then follows from the wider spacing).
- Negative conductances from the Gaussian tail are kept by default (a level-independent σ is an
  approximation; clipping it at 0 would bias every zero-level cell upward, ≈ +0.1 level for
  2-bit MLC at one day); ``clip_negative_conductance=True`` clips them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, overload

import torch
from pydantic import Field, field_validator

from hyflexpim.config import Strict
from hyflexpim.config import require as _require
from hyflexpim.device import error_rate as cal
from hyflexpim.device.noise import NoiseModel, gaussian_like
from hyflexpim.device.slicing import Cells
from hyflexpim.errors import UserError


class CellTypeConfig(Strict):
    """Programming of one cell type (SLC or MLC). Give ``error_rate`` or ``sigma_us``, not both."""

    error_rate: float | None = Field(None, gt=0, lt=0.5, description=(
        "target level error rate at calibration_time_s; default MLC 0.0404 [ref], SLC = MLC/slc_error_ratio"))
    sigma_us: list[float] | None = Field(None, description=(
        "programming σ at t0 = 1 s in µS: one value (for all levels) or one per level; disables calibration"))
    levels_us: list[float] | None = Field(None, description=(
        "conductance targets in µS, strictly increasing, 2^bits entries (default: linear G_off..G_on)"))
    ideal: bool = Field(False, description="no noise at all for this cell type (quantization only)")

    @field_validator("sigma_us", mode="before")
    @classmethod
    def _sigma_listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("sigma_us")
    @classmethod
    def _sigma_nonneg(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and any(not (x >= 0) for x in v):
            raise ValueError("every σ must be >= 0")
        return v

    @field_validator("levels_us")
    @classmethod
    def _levels_increasing(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) < 2 or v[0] < 0 or any(b <= a for a, b in itertools.pairwise(v))):
            raise ValueError("must be >= 0 and strictly increasing, at least 2 entries")
        return v


WHERE = "levels noise config"


def require(ok: bool, field: str, allowed: str, got: object) -> None:
    _require(ok, field, allowed, got, WHERE)


class LevelsNoiseConfig(Strict):
    """Configuration of the "levels" noise model (SLC and MLC together). Defaults: docs/device.md."""

    config_name: ClassVar[str] = WHERE
    kind: Literal["levels"] = "levels"
    r_on_ohm: float = Field(6000.0, gt=0, description="R_on in ohm [ref: 6 kΩ]")
    on_off_ratio: float = Field(150.0, gt=1, description="G_on/G_off [ref: 150]")
    mlc_bits_per_cell: int = Field(2, ge=2, le=4, description="bits of an MLC cell (SLC is always 1)")
    slc: CellTypeConfig = Field(default_factory=CellTypeConfig)
    mlc: CellTypeConfig = Field(default_factory=CellTypeConfig)
    slc_error_ratio: float = Field(cal.SLC_ERROR_RATIO, ge=1, description=(
        "default SLC error rate = MLC error rate / this [assumption from '3/4-bit MLC ~7x SLC']"))
    calibration_time_s: float = Field(cal.ONE_DAY_S, gt=0,
                                      description="time after programming the error rates refer to")
    relaxation_per_decade: float = Field(0.19, ge=0, description=(
        "c in σ(t) = σ0·(1 + c·log10(t/1 s)) [fit to Wan et al. 2022: σ(1 day)/σ(1 s) ≈ 1.9]"))
    read_sigma_us: float | None = Field(None, ge=0, description="read noise σ in µS per read; default 1% of G_on")
    stuck_on_rate: float = Field(0.0, ge=0, le=1, description="fraction of cells stuck at G_on")
    stuck_off_rate: float = Field(0.0, ge=0, le=1, description="fraction of cells stuck at G_off")
    sigma_profile: Literal["flat", "wan2022"] = Field("wan2022", description=(
        "programming σ versus conductance when calibrating: one σ for all levels, or the shape of Wan et al. 2022"))
    slc_rule: Literal["error_ratio", "same_device"] = Field("same_device", description=(
        "SLC σ when slc.error_rate/sigma_us are not given: calibrate to MLC rate / slc_error_ratio, "
        "or reuse the MLC σ profile and scale (same device; the SLC rate follows from its wider spacing)"))
    clip_negative_conductance: bool = Field(False, description="clip conductances below 0 (see module doc)")


@dataclass
class CellType:
    """Resolved parameters of one cell type, in µS and in level units."""

    name: str
    bits: int
    levels_us: list[float]
    sigma0_us: list[float]  # programming σ at t0 per level
    error_rate: float | None  # calibration target, None when σ was given or shared with MLC
    ideal: bool
    spacing_us: float  # d of the linear read-back map
    source: str = ""  # where σ comes from, in words

    @overload
    def to_level(self, g_us: float) -> float: ...

    @overload
    def to_level(self, g_us: torch.Tensor) -> torch.Tensor: ...

    def to_level(self, g_us: float | torch.Tensor) -> float | torch.Tensor:
        return (g_us - self.levels_us[0]) / self.spacing_us


class LevelsNoise(NoiseModel):
    name = "levels"

    def __init__(self, config: LevelsNoiseConfig | None = None, **kw: Any):
        self.config = c = config or LevelsNoiseConfig(**kw)
        require(c.stuck_on_rate + c.stuck_off_rate <= 1, "stuck_on_rate + stuck_off_rate", "must be <= 1",
                c.stuck_on_rate + c.stuck_off_rate)
        self.g_on_us = 1e6 / c.r_on_ohm
        self.g_off_us = self.g_on_us / c.on_off_ratio
        self.read_sigma_us = 0.01 * self.g_on_us if c.read_sigma_us is None else c.read_sigma_us
        self._f_cal = cal.relaxation_factor(c.calibration_time_s, c.relaxation_per_decade)
        mlc_rate = c.mlc.error_rate if c.mlc.error_rate is not None else cal.MLC_ERROR_RATE_1DAY
        mlc, scale = self._resolve("mlc", c.mlc, c.mlc_bits_per_cell, mlc_rate)
        slc_given = c.slc.sigma_us is not None or c.slc.error_rate is not None
        if c.slc_rule == "same_device" and not slc_given:
            require(scale is not None, "slc_rule", "'same_device' needs the MLC σ from mlc.error_rate or one "
                    "mlc.sigma_us value; otherwise give slc.sigma_us", c.slc_rule)
            slc, _ = self._resolve("slc", c.slc, 1, None, scale)
        else:
            slc, _ = self._resolve("slc", c.slc, 1, c.slc.error_rate or mlc_rate / c.slc_error_ratio)
        self.types = {1: slc, c.mlc_bits_per_cell: mlc}
        self.has_read_noise = self.read_sigma_us > 0 and not (slc.ideal and mlc.ideal)

    def _resolve(self, name: str, tc: CellTypeConfig, bits: int, rate: float | None,
                 scale: float | None = None) -> tuple[CellType, float | None]:
        """The cell type, and the σ scale at calibration time (µS per unit of the σ profile) if known."""
        n = 2 ** bits
        if tc.levels_us is None:
            levels = [self.g_off_us + (self.g_on_us - self.g_off_us) * k / (n - 1) for k in range(n)]
        else:
            require(len(tc.levels_us) == n, f"{name}.levels_us", f"needs {n} entries (2^{bits} levels)", tc.levels_us)
            levels = list(tc.levels_us)
        spacing = (levels[-1] - levels[0]) / (n - 1)
        if tc.sigma_us is not None:
            require(tc.error_rate is None, f"{name}.error_rate",
                    f"give {name}.error_rate or {name}.sigma_us, not both", tc.error_rate)
            require(len(tc.sigma_us) in (1, n), f"{name}.sigma_us", f"needs one value or {n} (one per level)",
                    tc.sigma_us)
            sig = tc.sigma_us * n if len(tc.sigma_us) == 1 else list(tc.sigma_us)
            flat = len(set(sig)) == 1 and self.config.sigma_profile == "flat"
            cell = CellType(name, bits, levels, sig, None, tc.ideal, spacing, f"{name}.sigma_us given")
            return cell, sig[0] * self._f_cal if flat else None
        shape = cal.sigma_shape(self.config.sigma_profile, [g / self.g_on_us for g in levels])
        source = f"same device as MLC ({self.config.sigma_profile} σ profile)"
        if scale is None:
            assert rate is not None, "a cell type is calibrated to a rate or given the MLC's scale"
            source = f"calibrated to error rate {rate:.4g} at {self.config.calibration_time_s:g} s"
            require(cal.level_error_rate(levels, self.read_sigma_us) < rate, "read_sigma_us",
                    f"read noise alone must give a {name} error rate below {rate}", self.read_sigma_us)
            scale = cal.sigma_for_error_rate(rate, levels, shape, floor=self.read_sigma_us)
        sig0 = [scale * x / self._f_cal for x in shape]
        return CellType(name, bits, levels, sig0, rate, tc.ideal, spacing, source), scale

    def cell_type(self, bits_per_cell: int) -> CellType:
        if bits_per_cell not in self.types:
            raise UserError(f"{WHERE}: mlc_bits_per_cell: cells have {bits_per_cell} bits per cell but the model "
                            f"serves 1 (SLC) and {self.config.mlc_bits_per_cell} (MLC); set mlc_bits_per_cell="
                            f"{bits_per_cell}")
        return self.types[bits_per_cell]

    # --- helpers in level units ---------------------------------------------------------------------
    @staticmethod
    def _table(values: list[float], like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(values, dtype=like.dtype, device=like.device)

    def _clip(self, u: torch.Tensor, t: CellType) -> torch.Tensor:
        return u.clamp_min(t.to_level(0.0)) if self.config.clip_negative_conductance else u

    def program(self, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        t = self.cell_type(cells.bits_per_cell)
        if t.ideal:
            return cells.digits
        lv = cells.levels.long()
        target = self._table([t.to_level(g) for g in t.levels_us], cells.digits)[lv]
        sigma = self._table([s / t.spacing_us for s in t.sigma0_us], cells.digits)[lv]
        u = target + sigma * gaussian_like(cells.digits, generator)
        c = self.config
        if c.stuck_on_rate + c.stuck_off_rate > 0:
            r = torch.rand(u.shape, generator=generator, dtype=u.dtype, device=u.device)
            u = torch.where(r < c.stuck_on_rate, torch.full_like(u, t.to_level(self.g_on_us)), u)
            stuck_off = (r >= c.stuck_on_rate) & (r < c.stuck_on_rate + c.stuck_off_rate)
            u = torch.where(stuck_off, torch.full_like(u, t.to_level(self.g_off_us)), u)
        return self._clip(u, t) + (cells.digits - cells.levels)

    def drift(self, values: torch.Tensor, cells: Cells, t_seconds: float,
              generator: torch.Generator) -> torch.Tensor:
        """Values ``t_seconds`` after programming; ``values`` must be as programmed (calls do not compose)."""
        t = self.cell_type(cells.bits_per_cell)
        f = cal.relaxation_factor(t_seconds, self.config.relaxation_per_decade)
        if t.ideal or f == 1.0:
            return values
        grow = (f * f - 1.0) ** 0.5
        sigma = self._table([s * grow / t.spacing_us for s in t.sigma0_us], values)[cells.levels.long()]
        shift = cells.digits - cells.levels
        return self._clip(values - shift + sigma * gaussian_like(values, generator), t) + shift

    def read(self, values: torch.Tensor, cells: Cells, generator: torch.Generator) -> torch.Tensor:
        t = self.cell_type(cells.bits_per_cell)
        if t.ideal or self.read_sigma_us == 0:
            return values
        shift = cells.digits - cells.levels
        u = values - shift + (self.read_sigma_us / t.spacing_us) * gaussian_like(values, generator)
        return self._clip(u, t) + shift

    # --- hard-decision read-back ----------------------------------------------------------------------
    def read_back_levels(self, values: torch.Tensor, cells: Cells) -> torch.Tensor:
        """Nearest-level hard decision (int64 level 0..L-1) of digit values as read."""
        t = self.cell_type(cells.bits_per_cell)
        u = values - (cells.digits - cells.levels)
        targets = [t.to_level(g) for g in t.levels_us]
        mids = torch.tensor([(a + b) / 2 for a, b in itertools.pairwise(targets)], dtype=u.dtype, device=u.device)
        return torch.bucketize(u.contiguous(), mids)

    def level_error_rate(self, values: torch.Tensor, cells: Cells) -> float:
        """Fraction of cells whose hard decision differs from the programmed level."""
        return float((self.read_back_levels(values, cells) != cells.levels.long()).double().mean())

    def expected_error_rate(self, bits_per_cell: int, t_seconds: float) -> float:
        """Analytic level error rate of one read at ``t_seconds`` after programming (no faults)."""
        t = self.cell_type(bits_per_cell)
        if t.ideal:
            return 0.0
        f = cal.relaxation_factor(t_seconds, self.config.relaxation_per_decade)
        sig = [((s * f) ** 2 + self.read_sigma_us ** 2) ** 0.5 for s in t.sigma0_us]
        return cal.level_error_rate(t.levels_us, sig)


def random_cells(bits_per_cell: int, n_cells: int, generator: torch.Generator) -> Cells:
    """``n_cells`` cells at equiprobable random levels (for error-rate checks)."""
    lv = torch.randint(0, 2 ** bits_per_cell, (1, 1, n_cells), generator=generator).float()
    return Cells(digits=lv, levels=lv.clone(), bits_per_cell=bits_per_cell, group_sign=torch.tensor([1]),
                 offset=0, encoding="offset")


def simulate_error_rate(model: LevelsNoise, bits_per_cell: int, t_seconds: float,
                        n_cells: int = 1_000_000, seed: int = 0) -> float:
    """Program random cells, let them relax ``t_seconds``, read once, return the level error rate."""
    g = torch.Generator().manual_seed(seed)
    cells = random_cells(bits_per_cell, n_cells, g)
    v = model.read(model.drift(model.program(cells, g), cells, t_seconds, g), cells, g)
    return model.level_error_rate(v, cells)



def describe(config: LevelsNoiseConfig) -> str:
    rate = config.mlc.error_rate
    return "levels noise" + (f", MLC error rate {rate:g}" if rate else ", calibrated")
