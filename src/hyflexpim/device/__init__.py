"""Cells: INT8 quantization, bit slicing into SLC/MLC cells, and pluggable noise models.

The device-level noise models join the registry of ``hyflexpim.device.noise`` by an explicit call,
:func:`register_noise_models` (``hyflexpim.sim.config`` makes it), not as a side effect of an import.
"""

from hyflexpim.device.levels import LevelsNoise, LevelsNoiseConfig
from hyflexpim.device.noise import NOISE_MODELS, register_noise_model


def register_noise_models() -> None:
    """Register noise kind ``"levels"``; a kind already registered (by an earlier call, or a user's) is kept."""
    if "levels" not in NOISE_MODELS:
        register_noise_model("levels", LevelsNoiseConfig, LevelsNoise)
