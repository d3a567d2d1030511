"""Cells: INT8 quantization, bit slicing into SLC/MLC cells, and the noise-model contract and registry.

The noise models themselves are method folders (``hyflexpim/methods/noise/<kind>/``); the registry of
``hyflexpim.device.noise`` fills from their registration (``hyflexpim.config.methods``) at its first read, not as a
side effect of an import.
"""
