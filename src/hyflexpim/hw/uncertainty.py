"""Low/high bands of the chip model's ratios from its assumptions.

Every spec may list ``ranges``: an assumption (a spec field ``analog.adc_bits_mlc`` or a component
field ``library.<component>.<field>``) and its plausible [low, high]. ``band`` moves each assumption
to its low and its high end, one at a time, in both designs of a ratio (they share the chip and its
library), and returns the smallest and largest ratio seen: a tornado band, not a confidence interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hyflexpim.chip.spec import PimSpec, Spec, load_spec, spec_from_dict
from hyflexpim.hw.evaluate import compare
from hyflexpim.plan import Architecture, Plan


def with_value(spec: Spec, path: str, value: float) -> Spec:
    """``spec`` with one assumption set to ``value``."""
    if path.startswith("library."):
        _, comp, field = path.split(".")
        if not isinstance(spec, PimSpec) or spec.lib is None or comp not in spec.lib.components:
            return spec
        new = spec.model_copy(deep=True)
        lib = spec.lib.model_copy(deep=True)
        lib.components[comp] = lib.components[comp].model_copy(update={field: value})
        new.lib = lib
        return new
    data = spec.model_dump()
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = type(node[parts[-1]])(value) if not isinstance(node[parts[-1]], list) else value
    return spec_from_dict(data, f"spec {spec.name}") if not isinstance(spec, PimSpec) else _pim_from(spec, data)


def _pim_from(spec: PimSpec, data: dict[str, Any]) -> PimSpec:
    new: PimSpec = PimSpec.model_validate(data)
    new.lib = spec.lib
    return new


def band(metric: Callable[[Spec, Spec], float], subject: Spec | str,
         reference: Spec | str) -> tuple[float, float, float, list[tuple[str, float, float]]]:
    """(point, low, high, [(assumption, ratio at low, ratio at high)]) of ``metric(subject, reference)``,
    a function of two specs returning a number, over the subject's and the reference's ``ranges``."""
    a = subject if not isinstance(subject, str) else load_spec(subject)
    b = reference if not isinstance(reference, str) else load_spec(reference)
    point = metric(a, b)
    rows = []
    for path, (lo, hi) in {**b.ranges, **a.ranges}.items():
        vals = []
        for v in (lo, hi):
            sa = with_value(a, path, v) if path in a.ranges or path.startswith("library.") else a
            in_b = path in b.ranges or (path.startswith("library.") and isinstance(b, PimSpec))
            sb = with_value(b, path, v) if in_b else b
            vals.append(metric(sa, sb))
        rows.append((path, vals[0], vals[1]))
    lows = [min(r[1], r[2]) for r in rows] + [point]
    highs = [max(r[1], r[2]) for r in rows] + [point]
    return point, min(lows), max(highs), rows


def gain_bands(subject: Plan | Architecture | str, spec: Spec | str, reference: str, seq: Sequence[int],
               batch: int | str = 1, gen_tokens: int = 128, shape: Architecture | str | None = None,
               mode: str = "iso-area", slc_rate: float = 10.0) -> list[str]:
    """One line per metric and sequence length: HyFlexPIM's gain over ``reference`` with its band."""
    def ratio(metric: str, i: int) -> Callable[[Spec, Spec], float]:
        def f(a: Spec, b: Spec) -> float:
            r = compare(subject, seq, spec=a, baselines=(b,), batch=batch, gen_tokens=gen_tokens, shape=shape,
                        mode=mode, slc_rate=slc_rate)
            return float(getattr(r[0], metric)[i] / getattr(r[1], metric)[i])
        return f

    lines = []
    for metric, what in (("throughput_tok_s", "throughput"), ("tops_per_w", "TOPS/W")):
        cells = []
        for i, L in enumerate(seq):
            p, lo, hi, _ = band(ratio(metric, i), spec, reference)
            cells.append(f"L={L} {p:.2f}x ({lo:.2f}-{hi:.2f})")
        lines.append(f"{what} over {reference}, band from the spec's assumption ranges: " + ", ".join(cells))
    return lines
