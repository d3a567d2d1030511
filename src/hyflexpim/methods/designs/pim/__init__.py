"""A PIM chip (``kind: pim``): the HyFlexPIM pipeline model — the plan mapped onto SLC/MLC arrays stage by stage."""

from hyflexpim.config.methods import DesignMethod

METHODS = (DesignMethod(kind="pim", package=__name__, spec="hyflexpim.chip.spec:PimSpec", cost="cost:price"),)
