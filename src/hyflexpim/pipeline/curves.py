"""The curves a run evaluates, from its configuration alone: the main curve and the ablations. The evaluate step
measures them, the report step pairs them (``report_run.differences``), a sweep cell names the importance scores
they read; none of these calls another step for them."""

from __future__ import annotations

from hyflexpim.pipeline.config import RunConfig

Curve = tuple[str, str, list[float], str | None]  # (variant, scorer, SLC rates, policy or None: the run's)


def curves_of(c: RunConfig) -> list[Curve]:
    """(variant, scorer, rates, policy) a run evaluates: the main curve and the ablations (policy None: the run's)."""
    rates = c.plan.slc_rates
    out: list[Curve] = [("redistributed", c.importance.scorer, rates, None)]
    if c.compare.no_redistribution:
        out.append(("svd", c.importance.scorer, rates, None))
    rules = [("magnitude_rates", "original", "magnitude", c.compare.magnitude),
             ("singular_value_rates", "redistributed", "singular_value", True),
             ("random_rates", "redistributed", "random", True)]
    for rates_field, variant, scorer, on in rules:
        at = c.compare.rates(rates_field, rates)
        if on and at:
            out.append((variant, scorer, at, None))
    for policy in c.compare.policies:
        if policy != c.plan.policy:
            out.append(("redistributed", c.importance.scorer, c.compare.rates("policy_rates", rates), policy))
    return out
