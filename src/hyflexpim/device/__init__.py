"""Cells: INT8 quantization, bit slicing into SLC/MLC cells, and pluggable noise models."""
