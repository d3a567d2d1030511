"""The prediction part of the PIM cost: deciding which attention entries to compute (``spec.prediction``).

A registry keyed by predictor kind (``PREDICTORS``): each entry prices its predictor's scoring (lane operations
per entry and NOR steps per operation), its table build (centroid dot products per token and head, on the analog
array), its adds per entry on an attention-only design, and says what it keeps resident in the digital PIM (bits
per key and head) and whether it selects (top-k). Every kind that selects then streams its scores through the
top-k engines (SpAtten's quick-select). Each kind but ``none`` is a method folder's cost half
(``hyflexpim/methods/predictors/<name>/cost.py``; ``PREDICTORS`` fills itself from the folders at its first read,
``hyflexpim.config.methods.fill_from``); no caller branches on the kind. :func:`chip_prediction` derives the chip's
``prediction`` section from a plan's typed attention settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyflexpim.chip.spec import PimSpec, Prediction
from hyflexpim.config import Registry
from hyflexpim.config.methods import fill_from, priced_predictor_methods
from hyflexpim.hw.library import latency_ns
from hyflexpim.hw.mapping import cells_per_weight
from hyflexpim.plan import AttentionPlan
from hyflexpim.plan.schema import SPARSE_KINDS


def _none(pr: Prediction) -> int:
    return 0


@dataclass(frozen=True)
class Predictor:
    """How one predictor kind is priced.

    ``scoring(spec, head_dim)``: (lane operations per entry, NOR steps per operation) on the digital PIM;
    ``table_dots(pr)``: centroid dot products per token and head (the query's table and the key's codes);
    ``adds_per_entry(pr)``: table entries gathered and added per entry (an attention-only design's adds);
    ``code_bits(pr)``: bits kept resident per key and head (capacity); ``selects``: it decides what to keep;
    ``entrywise``: its top-k streams every entry's score (else only ``per_token``'s candidates); ``per_token(spec,
    head_dim)``: (lane operations per token and head, NOR steps per operation, candidates
    the top-k engines select among per token and head) for a predictor whose work scales with the tokens, not
    the entries (a clustering one: centroid scores per query, key assignment per key, top-k over clusters)."""

    scoring: Callable[[PimSpec, float], tuple[float, float]]
    table_dots: Callable[[Prediction], int] = _none
    adds_per_entry: Callable[[Prediction], int] = _none
    code_bits: Callable[[Prediction], int] = _none
    selects: bool = True
    entrywise: bool = True
    per_token: Callable[[PimSpec, float], tuple[float, float, float]] | None = None


NONE = Predictor(lambda spec, hd: (0.0, 0.0), selects=False)  # nothing predicted (the chip's built-in "none")


def _fill(registry: Registry[Predictor]) -> None:
    """The built-in ``none``, then the predictor folders' cost halves (``hyflexpim.config.methods.METHOD_PACKAGES``)
    under the chip prediction kind each prices."""
    if "none" not in registry:
        registry.register("none", NONE)
    fill_from(priced_predictor_methods, lambda m: m.load("cost"))(registry)


PREDICTORS: Registry[Predictor] = Registry("prediction kind", fill=_fill)


def register_predictor(kind: str, predictor: Predictor, replace: bool = False) -> Predictor:
    return PREDICTORS.register(kind, predictor, replace)


def write_ratio(spec: PimSpec) -> float:
    """A write back's latency in NOR steps (a table-lookup predictor writes each add's result)."""
    d = spec.digital
    nor_ns = latency_ns(spec, d.pim)
    return (spec.comp(d.write).latency_ns or nor_ns) / nor_ns


def chip_prediction(attention: AttentionPlan) -> dict[str, Any] | None:
    """The chip's ``prediction`` section a plan's attention block implies: its method folder's
    ``prediction(settings)`` (the cost half, named by the registration); None for dense attention."""
    if not attention.sparse:
        return None
    prediction: dict[str, Any] = SPARSE_KINDS.get(attention.kind).load("prediction")(attention.settings)
    return prediction


def predictor(pr: Prediction) -> Predictor:
    return PREDICTORS.get(pr.kind, "prediction.kind")


def topk_visits(keep: float) -> float:
    """Expected scores streamed per entry when random-pivot quick-select (SpAtten's top-k engine) keeps the share
    ``keep`` of a long row: 2 + 2k·ln(1/k) + 2(1-k)·ln(1/(1-k)) (the expected comparisons of Hoare's selection,
    n -> infinity); 0 when every entry is kept (nothing to select). With ~2·ln(n) rounds per row this is within
    ~7 % of the cycles of SpAtten's own latency model (TopKLatencyModel.scala) at n = 128 .. 65,536 (docs/hw.md)."""
    if keep >= 1.0:
        return 0.0
    k = max(keep, 1e-12)
    return 2.0 + 2.0 * k * math.log(1.0 / k) + 2.0 * (1.0 - k) * math.log(1.0 / (1.0 - k))


def topk_rounds(row_len: Any) -> Any:
    """Expected quick-select rounds over a row of ``row_len`` scores (~2·ln n; at least one)."""
    return 2.0 * np.log(np.maximum(row_len, 2.0))


@dataclass(frozen=True)
class PredictionCost:
    """The prediction part, per (query, key, head) entry: ``units`` lane operations of ``steps`` NOR steps each;
    ``topk_visits`` scores streamed through the top-k engines, ``topk_ns_per_entry`` and ``topk_round_ns`` per
    quick-select round of a row (per digital module); ``energy_pj`` per entry; per token and head the table build's
    ``conversions_per_token`` SLC conversions and ``driver_row_bits_per_token`` driven row bits."""

    units: float
    steps: float
    selects: bool
    topk_visits: float
    topk_ns_per_entry: float
    topk_round_ns: float
    energy_pj: float
    conversions_per_token: float
    driver_row_bits_per_token: float
    token_units: float = 0.0
    token_steps: float = 0.0
    token_topk_ns: float = 0.0
    token_energy_pj: float = 0.0

    def add_time(self, t_pim: Any, *, lay: Any, n: Any, ctx: Any, heads: int, lanes: Any, sfus: Any, adcs: Any,
                 nor_ns: float, t_conv_slc: float) -> Any:
        """``t_pim`` (ns per stage) plus deciding which entries to compute: every entry of every head scored, then
        top-k per row, then the table build on the analog arrays (nothing when the predictor does not select);
        a per-token predictor's work per (token, head) row on the digital PIM and its top-k over candidates."""
        if self.token_units or self.token_topk_ns:
            rows = lay * n * heads
            t_pim = (t_pim + np.ceil(rows * self.token_units / lanes) * self.token_steps * nor_ns
                     + rows * self.token_topk_ns / sfus)
        if not self.selects:
            return t_pim
        t_pim = t_pim + np.ceil(ctx * heads * self.units * lay / lanes) * self.steps * nor_ns
        rows = lay * n * heads  # (query, head) rows, each of ctx / n entries on average
        t_pim = t_pim + (lay * ctx * heads * self.topk_ns_per_entry
                         + rows * topk_rounds(ctx / np.maximum(n, 1)) * self.topk_round_ns) / sfus
        return t_pim + lay * n * heads * self.conversions_per_token * t_conv_slc / adcs

    def energy_pj_total(self, entries: Any, n_tok: Any, n_layers: float, heads: int, conv_pj_slc: float,
                        driver_pj: float) -> Any:
        """pJ per inference: scoring and selection over ``entries`` per layer and head, the table build per token."""
        if self.token_energy_pj:
            return (entries * n_layers * heads * self.energy_pj
                    + n_tok * n_layers * heads * (self.conversions_per_token * conv_pj_slc
                                                  + self.driver_row_bits_per_token * driver_pj
                                                  + self.token_energy_pj))
        return (entries * n_layers * heads * self.energy_pj
                + n_tok * n_layers * heads * (self.conversions_per_token * conv_pj_slc
                                              + self.driver_row_bits_per_token * driver_pj))


def prediction_costs(spec: PimSpec, head_dim: float, keep: float | None = None) -> PredictionCost:
    """Work of deciding which entries to compute (``spec.prediction``), per (query, key, head) entry, priced by its
    kind's ``Predictor``; then the top-k engines (``prediction.topk``, ``topk_engines`` per digital module) stream
    ``topk_visits`` scores per entry. A table-building predictor (PQ) builds, per token and head, its lookup table
    (the M·K centroid dot products of the query) and the codes of the key (its M·K dot products): each dot product
    reads an INT8 centroid stored bit-sliced in SLC columns (``cells_per_weight`` SLC = 8 columns) with
    ``input_bits`` bit-serial input bits, and drives head_dim/M rows per input bit.
    ``keep``: the share of entries kept (default ``digital.attention_density``)."""
    pr, d = spec.prediction, spec.digital
    keep = d.attention_density if keep is None else keep
    p = predictor(pr)
    units, steps = p.scoring(spec, head_dim)  # lane operations per entry, NOR steps per operation
    topk = spec.comp(pr.topk)
    visits = topk_visits(keep) if p.selects and p.entrywise else 0.0
    dots = p.table_dots(pr)
    token: dict[str, float] = {}
    if p.per_token is not None:
        t_units, t_steps, candidates = p.per_token(spec, head_dim)
        t_visits = candidates * topk_visits(keep)
        t_topk_ns = (t_visits * (topk.latency_ns or 1.0 / spec.clock_ghz)
                     + pr.topk_round_cycles / spec.clock_ghz * float(topk_rounds(candidates)) * (t_visits > 0))
        token = {"token_units": t_units, "token_steps": t_steps, "token_topk_ns": t_topk_ns / pr.topk_engines,
                 "token_energy_pj": t_units * t_steps * spec.comp(d.pim).energy_pj + t_visits * topk.energy_pj}
    return PredictionCost(
        units=units, steps=steps, selects=p.selects, topk_visits=visits,
        topk_ns_per_entry=visits * (topk.latency_ns or 1.0 / spec.clock_ghz) / pr.topk_engines,
        topk_round_ns=pr.topk_round_cycles / spec.clock_ghz * (visits > 0) / pr.topk_engines,
        energy_pj=units * steps * spec.comp(d.pim).energy_pj + visits * topk.energy_pj,
        conversions_per_token=dots * spec.analog.input_bits * cells_per_weight(spec, True),
        driver_row_bits_per_token=dots * head_dim / pr.subspaces * spec.analog.input_bits, **token)
