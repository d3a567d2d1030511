"""Level error rate of noisy multi-level cells, and the σ that meets a target rate.

Error-rate definition (used everywhere in this package)
------------------------------------------------------
Cells are programmed to levels k = 0..L-1 (L = 2^bits_per_cell), each level equally likely.
One read of a cell returns a conductance; the hard decision is the nearest level target
(thresholds at the midpoints between neighbouring targets). A cell is in error when the hard
decision differs from the programmed level. The level error rate is the fraction of cells in
error. For a cell of level k with Gaussian spread σ_k about its target G_k:

    P_err(k) = Φ((lo_k - G_k)/σ_k) + Φ((G_k - hi_k)/σ_k),   lo_0 = -∞, hi_{L-1} = +∞

and the rate is the mean of P_err(k) over k. With equal spacing d and one σ this is
(2(L-1)/L)·Q(d/(2σ)), so σ = d / (2·Q⁻¹(rate·L/(2(L-1)))). The rate is below 0.5 for every
σ when L = 2, so targets must lie in (0, 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from hyflexpim.errors import UserError

T0_S = 1.0  # reference time of the relaxation model: "just programmed"
ONE_HOUR_S = 3600.0
ONE_DAY_S = 86400.0
ONE_MONTH_S = 30 * ONE_DAY_S
MLC_ERROR_RATE_1DAY = 0.0404  # reference [S]: measured MLC RRAM, one day after programming
SLC_ERROR_RATIO = 7.0  # assumption: SLC rate = MLC rate / 7 (3/4-bit MLC measured ~7x SLC [S])


def _check_rate(error_rate: float, field: str = "error_rate") -> None:
    if not (0.0 < float(error_rate) < 0.5):
        raise UserError(f"{field}: must be in the open interval (0, 0.5); got {error_rate!r}")


def level_error_rate(levels: Sequence[float] | torch.Tensor, sigma: float | Sequence[float] | torch.Tensor) -> float:
    """Expected level error rate (definition above) for level targets and Gaussian σ (same units)."""
    g = torch.as_tensor(levels, dtype=torch.float64).flatten()
    s = torch.as_tensor(sigma, dtype=torch.float64).flatten().expand(g.numel())
    mid = (g[1:] + g[:-1]) / 2
    inf = torch.tensor([math.inf], dtype=torch.float64)
    lo, hi = torch.cat([-inf, mid]), torch.cat([mid, inf])
    with torch.no_grad():
        p = torch.special.ndtr((lo - g) / s) + torch.special.ndtr((g - hi) / s)
    return float(torch.nan_to_num(p, nan=0.0).mean())


def sigma_equal_spacing(error_rate: float, bits_per_cell: int, spacing: float = 1.0) -> float:
    """Closed form: one σ for L = 2^bits equally spaced levels (spacing ``spacing``)."""
    if not (isinstance(bits_per_cell, int) and 1 <= bits_per_cell <= 4):
        raise UserError(f"bits_per_cell: must be an integer in 1..4; got {bits_per_cell!r}")
    _check_rate(error_rate)
    n = 2 ** bits_per_cell
    q = error_rate * n / (2 * (n - 1))
    z = float(torch.special.ndtri(torch.tensor(1.0 - q, dtype=torch.float64)))
    return spacing / (2.0 * z)


def sigma_for_error_rate(error_rate: float, levels: Sequence[float] | torch.Tensor,
                         shape: float | Sequence[float] | torch.Tensor = 1.0, floor: float = 0.0) -> float:
    """Scale s such that ``level_error_rate(levels, sqrt((s·shape)² + floor²)) == error_rate``.

    Bisection in log s; works for any strictly increasing ``levels`` and positive per-level
    ``shape``. ``floor`` is an independent σ added in quadrature (read noise); it must give a rate
    below the target on its own (check with ``level_error_rate(levels, floor)``). Units: those of
    ``levels``.
    """
    _check_rate(error_rate)
    g = torch.as_tensor(levels, dtype=torch.float64).flatten()
    shape_t = torch.as_tensor(shape, dtype=torch.float64).flatten().expand(g.numel())

    def rate(s: float) -> float:
        return level_error_rate(g, torch.sqrt((s * shape_t) ** 2 + floor ** 2))

    span = float(g[-1] - g[0])
    lo, hi = span * 1e-9, span
    if rate(lo) >= error_rate:
        raise ValueError(f"floor σ {floor} alone gives a level error rate >= {error_rate}")
    while rate(hi) < error_rate:  # the rate tends to 1 - 1/L >= 0.5 as s grows
        hi *= 2.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if rate(mid) < error_rate else (lo, mid)
        if hi / lo < 1 + 1e-12:
            break
    return math.sqrt(lo * hi)


# Shape of the conductance σ versus conductance (x = G/g_max) one day after programming: the 4th-order
# polynomial that IBM aihwkit's ReRamWan2022NoiseModel (MIT) fitted to the figures of Wan et al.,
# Nature 608, 504 (2022) (µS at g_max = 40 µS; used here only as a shape, with g_max = G_on).
WAN2022_1DAY_POLY = (0.701, 22.086, -50.773, 47.095, -16.458)


def sigma_shape(profile: str, g_over_gon: Sequence[float]) -> list[float]:
    """Relative programming σ per level: 'flat' (1 everywhere) or 'wan2022' (normalised to max 1)."""
    if profile == "flat":
        return [1.0] * len(g_over_gon)
    raw = [sum(c * x ** i for i, c in enumerate(WAN2022_1DAY_POLY)) for x in g_over_gon]
    top = max(sum(c * x ** i for i, c in enumerate(WAN2022_1DAY_POLY)) for x in [k / 100 for k in range(101)])
    return [max(r, 0.05 * top) / top for r in raw]  # floor keeps the shape positive outside [0, 1]


def relaxation_factor(t_seconds: float, per_decade: float) -> float:
    """σ(t)/σ(t0) of the stored conductance: 1 + c·log10(t/t0) for t > t0 = 1 s, else 1."""
    if t_seconds < 0 or not math.isfinite(t_seconds):
        raise UserError(f"t_seconds: must be a finite number >= 0; got {t_seconds!r}")
    return 1.0 + per_decade * math.log10(max(t_seconds, T0_S) / T0_S)
