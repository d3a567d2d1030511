"""hyflexpim: hybrid SLC/MLC RRAM processing-in-memory for transformers.

The accuracy side (``hyflexpim.api``) needs torch; the plan (``hyflexpim.plan``) and the chip
model (``hyflexpim.hw``) do not.
"""

__version__ = "0.1.0"
