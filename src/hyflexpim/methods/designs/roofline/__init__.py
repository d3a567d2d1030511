"""A roofline baseline (``kind: roofline``): compute peak against memory bandwidth, an optional on-chip buffer."""

from hyflexpim.config.methods import DesignMethod

METHODS = (DesignMethod(kind="roofline", package=__name__, spec="hyflexpim.chip.spec:RooflineSpec",
                        cost="cost:price"),)
