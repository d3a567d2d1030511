"""Cells: INT8 quantization, bit slicing into SLC/MLC cells, and pluggable noise models."""
from hyflexpim.device import levels as _levels  # noqa: F401  registers noise kind "levels"
