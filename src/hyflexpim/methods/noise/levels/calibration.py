"""Print the default calibration of the "levels" noise model and check it by simulation.

    python -m hyflexpim.methods.noise.levels.calibration [--cells N] [--seed S] [--mlc-bits B]
        [--sigma-profile flat|wan2022] [--slc-rule error_ratio|same_device]

For SLC and MLC: the level targets, the calibrated programming σ, and the level error rate
(definition in error_rate.py) expected analytically and measured on N random cells
(program -> drift to t -> one read -> nearest-level decision) at 1 s, 1 h, 1 day, 1 month;
then the resulting error of whole INT8 weights for each encoding (the simulator sees the continuous
stored value, not the hard decision).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import torch

from hyflexpim.device.error_rate import ONE_DAY_S, ONE_HOUR_S, ONE_MONTH_S, T0_S
from hyflexpim.device.noise import NoiseModel
from hyflexpim.device.slicing import ENCODINGS, slice_int8
from hyflexpim.methods.noise.levels.accuracy import LevelsNoise, simulate_error_rate
from hyflexpim.methods.noise.paper.accuracy import PaperNoise


def main(argv: Sequence[str] | None = None) -> None:
    """Print the default calibration of the "levels" model and check it by simulation."""
    ap = argparse.ArgumentParser(prog="python -m hyflexpim.methods.noise.levels.calibration", description=main.__doc__)
    ap.add_argument("--cells", type=int, default=1_000_000, help="random cells simulated per row")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mlc-bits", type=int, default=2)
    ap.add_argument("--sigma-profile", default="flat", choices=["flat", "wan2022"])
    ap.add_argument("--slc-rule", default="error_ratio", choices=["error_ratio", "same_device"])
    args = ap.parse_args(argv)
    model = LevelsNoise(mlc_bits_per_cell=args.mlc_bits, sigma_profile=args.sigma_profile, slc_rule=args.slc_rule)
    times = {"1 s": T0_S, "1 h": ONE_HOUR_S, "1 day": ONE_DAY_S, "1 month": ONE_MONTH_S}
    c = model.config
    print(f"G_on = {model.g_on_us:.3f} uS, G_off = {model.g_off_us:.4f} uS, read sigma = {model.read_sigma_us:.3f} uS, "
          f"relaxation {c.relaxation_per_decade}/decade, calibrated at t = {c.calibration_time_s:g} s")
    for b in (1, args.mlc_bits):
        t = model.cell_type(b)
        sig = ", ".join(f"{s:.3f}" for s in t.sigma0_us)
        print(f"\n{t.name} ({b} bit/cell): sigma {t.source}{' (ideal: no noise)' if t.ideal else ''}; levels_us = "
              f"{[round(x, 3) for x in t.levels_us]}; programming sigma at 1 s = [{sig}] uS")
        print(f"  {'time':>8} {'expected':>10} {'simulated':>10} {'rel.diff':>9} {'binom.s.e.':>10}")
        for name, ts in times.items():
            exp = model.expected_error_rate(b, ts)
            sim = simulate_error_rate(model, b, ts, n_cells=args.cells, seed=args.seed)
            se = math.sqrt(exp * (1 - exp) / args.cells)
            diff = f"{(sim - exp) / exp:+9.2%}" if exp > 0 else f"{'-':>9}"
            print(f"  {name:>8} {exp:10.3e} {sim:10.3e} {diff} {se / exp if exp > 0 else 0:10.2%}")
    print(f"\nINT8 weight error (std, in codes of +-127) one day after programming, {args.cells // 5} random codes:")
    print(f"  {'encoding':>16} {'SLC':>8} {'MLC':>8}   (paper's notebook noise, 2.5% per MLC slice, SLC ideal: MLC)")
    q = torch.randint(-127, 128, (args.cells // 5,), generator=torch.Generator().manual_seed(args.seed))
    paper = PaperNoise()
    for enc in ENCODINGS:
        row = [weight_error_std(model, q, b, enc, ONE_DAY_S, args.seed) for b in (1, args.mlc_bits)]
        ref = weight_error_std(paper, q, 2, enc, ONE_DAY_S, args.seed)
        print(f"  {enc:>16} {row[0]:8.2f} {row[1]:8.2f}   {ref:8.2f}")


def weight_error_std(model: NoiseModel, q: torch.Tensor, bits: int, encoding: str, t_seconds: float,
                     seed: int) -> float:
    """Std of reconstructed minus true INT8 code after program, drift to ``t_seconds`` and one read."""
    cells = slice_int8(q, bits, encoding)
    g = torch.Generator().manual_seed(seed)
    v = model.read(model.drift(model.program(cells, g), cells, t_seconds, g), cells, g)
    return float((cells.reconstruct(v) - q).std())


if __name__ == "__main__":
    main()
