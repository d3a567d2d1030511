"""The chip description both sides read: specs (YAML), the component library, encodings. No torch."""

from hyflexpim.chip.encodings import ENCODINGS, Encoding, get_encoding, register_encoding
from hyflexpim.chip.spec import DESIGNS, SPEC_KINDS, GpuSpec, PimSpec, RooflineSpec, Spec, load_spec, register_design

__all__ = [
           "DESIGNS",
           "ENCODINGS",
           "SPEC_KINDS",
           "Encoding",
           "GpuSpec",
           "PimSpec",
           "RooflineSpec",
           "Spec",
           "get_encoding",
           "load_spec",
           "register_design",
           "register_encoding",
]
