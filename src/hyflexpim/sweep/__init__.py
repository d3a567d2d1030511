"""Sweeps: a base run configuration × a grid (or list) of overrides, each cell an ordinary run folder, shared steps
made once, on Ray (embedded or a cluster) or one cell after another in-process (``run_sweep``)."""

from hyflexpim.sweep.run import SweepOutcome, run_sweep
from hyflexpim.sweep.spec import Cell, SweepConfig, load_sweep

__all__ = ["Cell", "SweepConfig", "SweepOutcome", "load_sweep", "run_sweep"]
