"""A GPU running an inference engine's kernels (``kind: gpu``, hyflexpim.hw.gpu)."""

from hyflexpim.config.methods import DesignMethod

METHODS = (DesignMethod(kind="gpu", package=__name__, spec="hyflexpim.chip.spec:GpuSpec", cost="cost:price"),)
