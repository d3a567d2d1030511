"""Circuit-faithful analog matrix-vector product of one weight part stored in RRAM cells.

:func:`analog_matmul` follows the dataflow of one analog module:

1. **Activations** are quantized to ``input_bits`` signed bits. Default (``input_quant="per_token"``):
   a dynamic symmetric scale per row of ``x`` (one token), s = max|x_row| / (2^(B−1) − 1);
   ``input_quant="fixed"`` uses a calibrated scale passed as ``x_scale`` (see
   :func:`calibrate_input_scale`); values beyond it clip at ±(2^(B−1) − 1).
2. The integer activations drive the wordlines **bit-serially**, one two's-complement bit per cycle;
   the MSB cycle is weighted −2^(B−1), the others +2^t.
3. The **weights** are the cells of :func:`hyflexpim.device.slicing.slice_int8`: every slice j of every
   group g is one set of columns. ``d_in`` is cut into row blocks of ``rows_per_array`` rows (the last one
   zero-padded), so each column's **partial sum** covers at most that many inputs. The analog quantity is the
   programmed level (plus noise): ``digit_values − (cells.digits − cells.levels)``; the digit shift
   ``digits − levels`` (non-zero only on the negative top slice of two's complement) is added exactly by
   the periphery, as is the encoding's ``offset · Σx``.
4. Every partial sum (per input bit, per slice, per group, per row block, per column) goes through the
   **ADC** (:mod:`hyflexpim.sim.adc`): ``adc_bits_slc`` / ``adc_bits_mlc`` bits, step one cell level
   (default, saturating), or a range set by the full scale or by calibration.
5. Codes are **shifted and added** digitally across input bits (×2^t, MSB negative), slices (×2^(b·j)),
   groups (×sign_g) and summed over row blocks.

The result is in the integer weight domain times the activation scale: ≈ ``x @ reconstruct(digit_values).T``
(the caller multiplies by the weight scale). With an ADC of enough bits and ideal cells it equals
``s · (x_q @ q.T)`` exactly.

Cost: batched matmuls of the 0/1 input-bit planes with the level matrix (batch = row blocks), B·G·S
times the clean matmul's MACs, plus element-wise passes over the partial sums (round — skipped on ideal
cells —, clip — skipped when no sum can leave the range —, sum over row blocks). The partial sums are
made in cache-sized tiles (``tile_mb``; each tile covers all row blocks of a range of tokens × columns)
and tokens in chunks whose codes fit ``memory_budget_mb``: the only Python loops are over those tiles and
chunks, never over bits, slices or arrays. Static weights: :func:`prepare_analog` once, then
:func:`analog_matmul_prepared` per call. Tested on CPU.

``adc_mode="statistical"`` skips the conversions: one matmul with an effective weight plus Gaussian noise.
A conversion reads round(P0/LSB + ε) with P0 the ideal partial sum (an integer number of levels) and ε the
cells' noise in it; its error vs the ideal is split as β·ε + r with r uncorrelated
(:func:`hyflexpim.sim.adc.rounding_moments`, from a typical σ(ε) per column set: ``stat_bit_density`` ×
rows × mean squared cell deviation). So the result is x_q @ W_β.T + N(0, var), with
W_β = reconstruct(digits + β·(digit_values − digits)) (β ≈ 1: the noisy weights, when the noise per sum
is ≳ 1 LSB; β ≈ 0: the ADC rounds the noise away, when it is ≪ 1 LSB on a one-level LSB) and
var = Σ over conversions of (shift-and-add weight)² · var(r), counting only conversions whose input bit
plane and cells are both non-zero in the row block (the others read exactly 0), with the errors of the
bit planes of one token and block correlated by how many rows the planes share: identical planes (the
sign extension of small two's-complement inputs) give identical conversions whose errors add coherently
with the summed weight −2^k and mostly cancel (:func:`_plane_covariance`). On ideal cells var(r) is
the lattice rounding variance ((LSB² + 2)/12 for a power-of-two LSB ≥ 2 levels, 0 for LSB ≤ 1). LSBs off
the level lattice (uniform / calibrated steps) fall back to β = 1, var(r) = LSB²/12. Not modelled:
clipping (level_step saturation, calibrated ranges) and the spread of σ(ε) across conversions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hyflexpim.device.quant import qmax, round_clip, symmetric_scale
from hyflexpim.device.slicing import Cells
from hyflexpim.errors import UserError
from hyflexpim.sim.adc import CircuitConfig, adc_lsb, convert_, full_scale, rounding_moments

__all__ = [
    "CircuitConfig",
    "PreparedAnalog",
    "analog_matmul",
    "analog_matmul_prepared",
    "calibrate_adc_range",
    "calibrate_input_scale",
    "input_bit_weights",
    "n_weight_slices",
    "prepare_analog",
    "quantize_activations",
]


def n_weight_slices(cells: Cells) -> int:
    """Column sets per weight: groups × slices (8 for SLC, 4 for 2-bit MLC, twice that for differential)."""
    return int(cells.digits.shape[0] * cells.digits.shape[1])


def input_bit_weights(bits: int, dtype=torch.float64) -> torch.Tensor:
    """Shift-and-add weights of two's-complement input bits: 1, 2, …, 2^(B−2), −2^(B−1)."""
    w = 2.0 ** torch.arange(bits, dtype=dtype)
    w[-1] = -w[-1]
    return w


def quantize_activations(x: torch.Tensor, cfg: CircuitConfig,
                         x_scale: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer-valued activations (same dtype as x) and their scale (shape [..., 1]).

    per_token (default): s = max|x_row| / (2^(B−1) − 1) for every row (all-zero rows get a tiny scale);
    fixed: the given ``x_scale`` (scalar or broadcastable), values clipped to ±(2^(B−1) − 1).
    """
    if x_scale is not None:
        s = torch.as_tensor(x_scale, dtype=x.dtype, device=x.device)
        if s.dim() == 0:
            s = s.reshape((1,) * x.dim())
        s = s.clamp_min(torch.finfo(x.dtype).tiny)
    elif cfg.input_quant == "fixed":
        raise UserError("CircuitConfig.input_quant='fixed' needs x_scale=... (see calibrate_input_scale)")
    else:
        s = symmetric_scale(x, cfg.input_bits, (-1,))
    return round_clip(x, s, cfg.input_bits), s


def calibrate_input_scale(x: torch.Tensor, cfg: CircuitConfig, percentile: float = 100.0) -> torch.Tensor:
    """A fixed activation scale from calibration data: the ``percentile`` of |x| over (2^(B−1) − 1)."""
    if not 0 < percentile <= 100:
        raise UserError(f"percentile must be in (0, 100]; got {percentile}")
    a = x.detach().abs().reshape(-1).float()
    if percentile >= 100:
        m = a.max()
    else:
        k = max(1, int(math.ceil(percentile / 100 * a.numel())))
        m = a.kthvalue(k).values
    return (m / qmax(cfg.input_bits)).to(x.dtype)


def _check(x: torch.Tensor, cells: Cells, digit_values: torch.Tensor) -> None:
    if cells.digits.dim() != 4:
        raise UserError(f"cells.digits must be [groups, slices, d_out, d_in] (slice a 2-D weight); "
                        f"got shape {list(cells.digits.shape)}")
    if tuple(digit_values.shape) != tuple(cells.digits.shape):
        raise UserError(f"digit_values must have the shape of cells.digits {list(cells.digits.shape)}; "
                        f"got {list(digit_values.shape)}")
    if x.shape[-1] != cells.digits.shape[-1]:
        raise UserError(f"x's last dimension must be d_in={cells.digits.shape[-1]}; got {x.shape[-1]}")
    if not x.is_floating_point():
        raise UserError(f"x must be a floating-point tensor; got {x.dtype}")


def _bit_planes(xq: torch.Tensor, bits: int, n_blocks: int, rows: int) -> torch.Tensor:
    """Two's-complement bit planes of integer-valued xq [n, d_in], zero-padded and cut into row blocks:
    [n_blocks, B*n, rows] float32 (row index t*n + token: bit-major)."""
    n, d_in = xq.shape
    u = xq.to(torch.int32) & ((1 << bits) - 1)
    pad = n_blocks * rows - d_in
    if pad:
        u = torch.nn.functional.pad(u, (0, pad))
    u = u.reshape(n, n_blocks, rows).transpose(0, 1)  # [nb, n, R]
    t = torch.arange(bits, dtype=torch.int32, device=xq.device).reshape(1, -1, 1, 1)
    return ((u.unsqueeze(1) >> t) & 1).to(torch.float32).reshape(n_blocks, bits * n, rows)


def _lsb_and_range(cells: Cells, cfg: CircuitConfig, adc_range) -> tuple[torch.Tensor, int]:
    G, S = cells.digits.shape[:2]
    bits = cfg.adc_bits(cells.bits_per_cell)
    if cfg.adc_range == "level_step":
        return torch.ones(G, S, dtype=torch.float64), bits
    if cfg.adc_range == "full_scale":
        rng = torch.full((G, S), full_scale(cfg.rows_per_array, cells.bits_per_cell), dtype=torch.float64)
    else:
        if adc_range is None:
            raise UserError("CircuitConfig.adc_range='calibrated' needs adc_range=... "
                            "(a [groups, slices] tensor from calibrate_adc_range)")
        rng = torch.as_tensor(adc_range, dtype=torch.float64).expand(G, S)
    return adc_lsb(rng, bits, cfg.adc_step), bits


def _chunk_tokens(n_tokens: int, per_token_bytes: int, cfg: CircuitConfig) -> int:
    return max(1, min(n_tokens, int(cfg.memory_budget_mb * 2**20) // max(1, per_token_bytes)))


def _level_matrix(analog: torch.Tensor, scale_gs: torch.Tensor, n_blocks: int, rows: int) -> torch.Tensor:
    """[G, S, O, I] analog levels / scale -> [n_blocks, rows, O*G*S] float32 (padded rows are zero)."""
    G, S, O, I = analog.shape
    a = analog.to(torch.float32) / scale_gs.to(torch.float32).reshape(G, S, 1, 1)
    pad = n_blocks * rows - I
    if pad:
        a = torch.nn.functional.pad(a, (0, pad))
    # columns ordered (output, column set): the shift-and-add over column sets then reads contiguous memory
    return a.reshape(G * S, O, n_blocks, rows).permute(2, 3, 1, 0).reshape(n_blocks, rows, O * G * S).contiguous()


def _shift_coefficients(cells: Cells) -> torch.Tensor:
    """[G, S] sign_g · 2^(b·j), float64."""
    return cells.group_sign.to(torch.float64).reshape(-1, 1) * cells.place.to(torch.float64).reshape(1, -1)


_F32_EXACT = float(1 << 24)


@dataclass
class PreparedAnalog:
    """Everything :func:`analog_matmul` derives from the cells once (static weights): reuse it across calls
    with :func:`analog_matmul_prepared`. Built by :func:`prepare_analog`."""

    cfg: CircuitConfig
    shape: tuple[int, int, int, int]  # G, S, d_out, d_in
    n_blocks: int
    adc_bits: int
    lsb: torch.Tensor  # [G, S] float64
    coef: torch.Tensor  # [G, S] float64: sign_g · 2^(b·j)
    offset: int
    levels: torch.Tensor | None = None  # exact: [n_blocks, rows, d_out*G*S] float32, in LSB units
    may_clip: bool = True
    lattice: bool = False  # every level / LSB is an integer: rounding is a no-op
    shift_mask: torch.Tensor | None = None  # exact: [d_out, d_in] 0/1 float32 ...
    shift_value: float = 0.0  # ... times this value = the digit shift Σ coef·(digits − levels)
    shift_full: torch.Tensor | None = None  # ... or the general integer matrix, float64
    w_eff: torch.Tensor | None = None  # statistical: reconstruct(digit_values) [d_out, d_in] float32
    var_w: torch.Tensor | None = None  # statistical: [n_blocks*G*S, d_out] coef² · var(r) where cells are non-zero
    decor: torch.Tensor | None = None  # statistical: [G*S] σ² (LSB²) per differing row between two bit planes
    stat_beta: torch.Tensor | None = None  # statistical: [G, S] share of the cell noise that survives the ADC

    @property
    def n_weight_slices(self) -> int:
        return self.shape[0] * self.shape[1]


def prepare_analog(cells: Cells, digit_values: torch.Tensor, cfg: CircuitConfig,
                   adc_range: torch.Tensor | None = None) -> PreparedAnalog:
    """Precompute the level matrix, ADC steps and digital correction terms of one weight part."""
    if cells.digits.dim() != 4:
        raise UserError(f"cells.digits must be [groups, slices, d_out, d_in] (slice a 2-D weight); "
                        f"got shape {list(cells.digits.shape)}")
    if tuple(digit_values.shape) != tuple(cells.digits.shape):
        raise UserError(f"digit_values must have the shape of cells.digits {list(cells.digits.shape)}; "
                        f"got {list(digit_values.shape)}")
    G, S, O, I = cells.digits.shape
    R = cfg.rows_per_array
    nb = -(-I // R)
    lsb, adc_bits = _lsb_and_range(cells, cfg, adc_range)
    coef = _shift_coefficients(cells)
    shift = cells.digits - cells.levels
    analog = digit_values.to(torch.float32) - shift.to(torch.float32)  # noisy levels (conductance-like)
    prep = PreparedAnalog(cfg=cfg, shape=(G, S, O, I), n_blocks=nb, adc_bits=adc_bits, lsb=lsb, coef=coef,
                          offset=int(cells.offset))
    if cfg.adc_mode == "statistical":
        # typical cell-noise σ of one partial sum, per column set: ρ̄ · rows · mean(dev²)
        dev = (digit_values.to(torch.float64) - cells.digits.to(torch.float64))
        rows_eff = min(R, I)
        sig2 = cfg.stat_bit_density * rows_eff * (dev ** 2).mean((2, 3))  # [G, S] levels²
        beta = torch.zeros(G, S, dtype=torch.float64)
        v = torch.zeros(G, S, dtype=torch.float64)
        for gi in range(G):  # G·S scalars (≤ 16): the moments of one conversion
            for si in range(S):
                lv = float(lsb[gi, si])
                b_, v_ = rounding_moments(float(sig2[gi, si].sqrt()) / lv, lv, cfg.adc_noise_lsb)
                beta[gi, si], v[gi, si] = b_, v_ * lv ** 2  # v in levels²
        prep.stat_beta = beta
        d64 = cells.digits.to(torch.float64)
        prep.w_eff = cells.reconstruct(d64 + beta.reshape(G, S, 1, 1) * dev).to(torch.float32)
        pad = nb * R - I
        a_nz = torch.nn.functional.pad(analog != 0, (0, pad)).reshape(G, S, O, nb, R).any(-1)  # [G,S,O,nb]
        prep.var_w = torch.einsum("gs,gsob->bgso", coef ** 2 * v, a_nz.to(torch.float64)).reshape(
            nb * G * S, O).to(torch.float32)
        # decorrelation of two conversions of the same column on different bit planes, per differing row:
        # the cell noise of that row, plus (LSB ≥ 2 levels) its ideal level, which moves the lattice residue
        lvl2 = (cells.levels.to(torch.float64) ** 2).mean((2, 3))
        on_lattice_coarse = (lsb >= 2).to(torch.float64)
        prep.decor = ((dev ** 2).mean((2, 3)) + on_lattice_coarse * lvl2).reshape(G * S) / lsb.reshape(G * S) ** 2
        return prep
    A = _level_matrix(analog, lsb, nb, R)  # [nb, R, G*S*O], in LSB units
    top = float((1 << adc_bits) - 1)
    colmax = float(A.clamp_min(0).sum(1).max()) if A.numel() else 0.0
    prep.may_clip = bool(A.numel() and A.min() < 0) or colmax > top
    prep.lattice = bool(torch.equal(A, A.round())) and cfg.adc_noise_lsb == 0
    prep.levels = A
    dshift = (shift.to(torch.float64) * coef.reshape(G, S, 1, 1)).sum((0, 1))  # [O, I] integer
    nz = dshift[dshift != 0]
    if nz.numel() and bool((nz == nz[0]).all()):
        prep.shift_mask, prep.shift_value = (dshift != 0).to(torch.float32), float(nz[0])
    elif nz.numel():
        prep.shift_full = dshift
    return prep


def analog_matmul(x: torch.Tensor, cells: Cells, digit_values: torch.Tensor, cfg: CircuitConfig,
                  generator: torch.Generator | None = None, *, x_scale: torch.Tensor | float | None = None,
                  adc_range: torch.Tensor | None = None) -> torch.Tensor:
    """Analog PIM product of x [..., d_in] with one weight part -> [..., d_out] (integer weight domain × x scale).

    ``digit_values``: the programmed digit values (``cells.digits`` when ideal), same shape as ``cells.digits``.
    ``generator``: draws of ADC noise (``adc_noise_lsb``) and of the statistical mode.
    ``x_scale``: fixed activation scale (needed when ``cfg.input_quant == "fixed"``; overrides per-token).
    ``adc_range``: [G, S] calibrated ADC ranges (needed when ``cfg.adc_range == "calibrated"``).
    For repeated calls on the same weights, :func:`prepare_analog` once and :func:`analog_matmul_prepared`.
    """
    if x.shape[-1] != cells.digits.shape[-1]:
        raise UserError(f"x's last dimension must be d_in={cells.digits.shape[-1]}; got {x.shape[-1]}")
    return analog_matmul_prepared(x, prepare_analog(cells, digit_values, cfg, adc_range), generator,
                                  x_scale=x_scale)


def analog_matmul_prepared(x: torch.Tensor, prep: PreparedAnalog, generator: torch.Generator | None = None,
                           *, x_scale: torch.Tensor | float | None = None) -> torch.Tensor:
    """:func:`analog_matmul` on precomputed weights (``prep.cfg`` is the circuit configuration)."""
    cfg = prep.cfg
    G, S, O, I = prep.shape
    if x.shape[-1] != I:
        raise UserError(f"x's last dimension must be d_in={I}; got {x.shape[-1]}")
    if not x.is_floating_point():
        raise UserError(f"x must be a floating-point tensor; got {x.dtype}")
    lead = x.shape[:-1]
    X = x.reshape(-1, I)
    xq, s = quantize_activations(X, cfg, x_scale)
    B, R, nb = cfg.input_bits, cfg.rows_per_array, prep.n_blocks
    wt = input_bit_weights(B)
    if cfg.adc_mode == "statistical":
        mm_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        exact = (xq.to(mm_dtype) @ prep.w_eff.to(mm_dtype).T).to(torch.float64)
        # per token, block and column set: Σ over bit-plane pairs of w_t w_t' · corr (identical planes
        # add coherently); times per block, column set and column: coef² · var(r) where cells are non-zero
        Q = _plane_covariance(xq, B, nb, R, prep)  # [nb, N, G*S]
        var = Q.transpose(0, 1).reshape(-1, nb * G * S).to(torch.float32) @ prep.var_w  # [N, O]
        noise = torch.randn(exact.shape, generator=generator, dtype=torch.float32)
        out = exact + (noise * var.clamp_min(0).sqrt()).to(torch.float64)
    else:
        A = prep.levels
        top = float((1 << prep.adc_bits) - 1)
        coef_lsb = prep.coef * prep.lsb  # [G, S]
        # codes are integers; stage 1 (over column sets) in float32 when provably exact (< 2^24),
        # stage 2 (over input bits) in float64
        ratio = (coef_lsb.abs() / coef_lsb.abs().min()).sum()
        exact32 = float(top * nb * ratio) < _F32_EXACT \
            and bool(torch.equal(coef_lsb / coef_lsb.abs().min(), (coef_lsb / coef_lsb.abs().min()).round()))
        c_dtype = torch.float32 if exact32 else torch.float64
        c_unit = coef_lsb.abs().min() if exact32 else torch.tensor(1.0, dtype=torch.float64)
        c1 = (coef_lsb / c_unit).reshape(G * S).to(c_dtype)
        GSO = G * S * O
        n_chunk = _chunk_tokens(X.shape[0], B * GSO * 4, cfg)  # codes [B*n, G*S*O] float32 per chunk
        outs = []
        for i in range(0, X.shape[0], n_chunk):
            xc = xq[i:i + n_chunk]
            n = xc.shape[0]
            planes = _bit_planes(xc, B, nb, R)  # [nb, B*n, R]
            codes = _convert_tiled(planes, A, prep, generator)  # [B*n, G*S*O], Σ over row blocks
            per_bit = codes.reshape(B * n * O, G * S).to(c_dtype) @ c1  # shift-and-add over column sets
            outs.append(torch.einsum("t,tno->no", wt, per_bit.to(torch.float64).reshape(B, n, O)) * c_unit)
        out = torch.cat(outs, 0) if outs else torch.zeros(0, O, dtype=torch.float64)
        # exact digital terms: the digit shift and the encoding offset
        qmax = float((1 << (B - 1)) - 1)
        if prep.shift_mask is not None and qmax * I < _F32_EXACT:
            out = out + (xq.to(torch.float32) @ prep.shift_mask.T).to(torch.float64) * prep.shift_value
        elif prep.shift_mask is not None:
            out = out + (xq.to(torch.float64) @ prep.shift_mask.to(torch.float64).T) * prep.shift_value
        elif prep.shift_full is not None:
            out = out + xq.to(torch.float64) @ prep.shift_full.T
        if prep.offset:
            out = out - float(prep.offset) * xq.to(torch.float64).sum(-1, keepdim=True)
    out = out * s.to(torch.float64)
    return out.to(x.dtype).reshape(*lead, O)


def _convert_tiled(planes: torch.Tensor, A: torch.Tensor, prep: PreparedAnalog,
                   generator: torch.Generator | None) -> torch.Tensor:
    """Σ over row blocks of ADC(planes @ A): [nb, M, R] x [nb, R, C] -> [M, C] float32.

    The partial sums [nb, M, C] are produced tile by tile (rows × columns of the output, every tile
    covering all row blocks), each tile small enough (``cfg.tile_mb``) to stay in cache for the ADC passes;
    each tile is one batched matmul over the row blocks."""
    cfg = prep.cfg
    nb, M, _ = planes.shape
    C = A.shape[-1]
    codes = torch.empty(M, C, dtype=torch.float32, device=A.device)
    mc = min(M, 128)
    nc = max(64, int(cfg.tile_mb * 2**20) // (nb * mc * 4))
    clip, rnd = prep.may_clip, not prep.lattice
    for i in range(0, M, mc):
        pl = planes[:, i:i + mc]
        for j in range(0, C, nc):
            P = torch.bmm(pl, A[:, :, j:j + nc])  # partial sums in LSB units
            if clip or rnd or cfg.adc_noise_lsb > 0:
                convert_(P, prep.adc_bits, cfg.adc_noise_lsb, generator, clip=clip, round_=rnd)
            torch.sum(P, 0, out=codes[i:i + mc, j:j + nc])
    return codes


def _roundoff_correlation(sd2: torch.Tensor) -> torch.Tensor:
    """Correlation of two round-off errors whose inputs differ by N(0, sd2) (LSB²):
    (6/π²) Σ_k exp(−a k²)/k², a = 2π²·sd2; for a < 1 by π²/6 − √(πa) + a/2 (exact up to O(e^(−π²/a)))."""
    a = 2 * math.pi ** 2 * sd2
    small = math.pi ** 2 / 6 - torch.sqrt(math.pi * a.clamp(max=1.0)) + a.clamp(max=1.0) / 2
    large = torch.exp(-a) + torch.exp(-4 * a) / 4
    return torch.where(a < 1, small, large) * (6 / math.pi ** 2)


def _plane_covariance(xq: torch.Tensor, bits: int, nb: int, rows: int, prep: PreparedAnalog) -> torch.Tensor:
    """[nb, N, G*S] float64: Σ_(t,t') w_t w_t' · corr(r_t, r_t') over the input bit planes of each token and
    row block, for each column set — the factor that multiplies one conversion's error variance.

    Planes that are all zero in the block convert to exactly 0. Two planes that differ in n_diff rows give
    conversions whose errors are correlated by h = (6/π²) Σ_k exp(−2π²k²σ_d²)/k² (the correlation of two
    round-off errors whose inputs differ by N(0, σ_d²)), σ_d² = n_diff · decor + 2·noise_lsb². Identical
    planes (the sign extension of small two's-complement inputs) have h = 1: their errors add coherently
    with the summed weight Σ_(t ≥ k) w_t = −2^k and mostly cancel — independent errors would overstate the
    error by orders of magnitude on small activations."""
    cfg = prep.cfg
    N = xq.shape[0]
    GS = prep.decor.numel()
    w = input_bit_weights(bits, torch.float32)
    ww = w.reshape(-1, 1) * w.reshape(1, -1)  # [B, B]
    # correlation by number of differing rows (0..rows), per column set: a lookup table
    n_rows = torch.arange(rows + 1, dtype=torch.float64)
    eta2 = 2 * cfg.adc_noise_lsb ** 2
    table = _roundoff_correlation(prep.decor.reshape(GS, 1) * n_rows + eta2).to(torch.float32)  # [GS, rows+1]
    diag_fix = (1.0 - table[:, 0]).reshape(1, 1, GS)  # identical conversion (t = t'): correlation 1
    n_chunk = _chunk_tokens(N, nb * bits * bits * (GS + 2) * 4 * 2, cfg)
    res = []
    for i in range(0, N, n_chunk):
        n = min(n_chunk, N - i)
        pl = _bit_planes(xq[i:i + n], bits, nb, rows).reshape(nb, bits, n, rows).transpose(1, 2)  # [nb,n,B,R]
        gram = torch.matmul(pl, pl.transpose(-1, -2))  # [nb, n, B, B] rows where both planes are 1
        d = torch.diagonal(gram, dim1=-2, dim2=-1)  # [nb, n, B] ones per plane
        n_diff = (d.unsqueeze(-1) + d.unsqueeze(-2) - 2 * gram).to(torch.int64)  # rows where they differ
        nz = (d > 0).to(torch.float32)
        both = nz.unsqueeze(-1) * nz.unsqueeze(-2) * ww  # [nb, n, B, B]
        h = table[:, n_diff]  # [GS, nb, n, B, B]
        q = (h * both).sum((-2, -1)).permute(1, 2, 0)  # [nb, n, GS]
        q = q + diag_fix * (nz * w ** 2).sum(-1, keepdim=True)
        res.append(q.to(torch.float64))
    if not res:
        return torch.zeros(nb, 0, GS, dtype=torch.float64)
    return torch.cat(res, 1)


def calibrate_adc_range(x: torch.Tensor, cells: Cells, digit_values: torch.Tensor, cfg: CircuitConfig,
                        x_scale: torch.Tensor | float | None = None,
                        max_samples: int = 1 << 22) -> torch.Tensor:
    """[G, S] ADC ranges: the ``cfg.calib_percentile`` of the partial sums seen on calibration inputs x.

    Pass the result as ``analog_matmul(..., adc_range=...)`` with ``adc_range="calibrated"``. Zero sums
    (input bit plane or cells all zero) are included. At most ``max_samples`` sums per (group, slice) are
    kept (a fixed stride through the data).
    """
    _check(x, cells, digit_values)
    G, S, O, I = cells.digits.shape
    X = x.reshape(-1, I)
    xq, _ = quantize_activations(X, cfg, x_scale)
    B, R = cfg.input_bits, cfg.rows_per_array
    nb = -(-I // R)
    analog = digit_values.to(torch.float64) - (cells.digits - cells.levels).to(torch.float64)
    A = _level_matrix(analog, torch.ones(G, S, dtype=torch.float64), nb, R)
    n_chunk = _chunk_tokens(X.shape[0], nb * B * G * S * O * 4, cfg)
    n_chunks = -(-X.shape[0] // n_chunk)
    keep = max(1, max_samples // max(1, n_chunks))
    samples = []
    for i in range(0, X.shape[0], n_chunk):
        P = torch.bmm(_bit_planes(xq[i:i + n_chunk], B, nb, R), A)  # [nb, B*n, O*G*S]
        P = P.reshape(-1, G * S).T
        stride = max(1, P.shape[1] // keep)
        samples.append(P[:, ::stride])
    P = torch.cat(samples, 1)
    k = max(1, int(math.ceil(cfg.calib_percentile / 100 * P.shape[1])))
    rng = P.kthvalue(k, dim=1).values.to(torch.float64).clamp_min(1e-6)
    return rng.reshape(G, S)
