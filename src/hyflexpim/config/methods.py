"""Method folders: one registration per method, naming its halves by dotted path (HF peft's shape).

An attention kind is one folder: ``hyflexpim/methods/attention/<name>/`` (dense: ``float``, ``digital``) or
``hyflexpim/methods/predictors/<name>/`` (a relevance predictor of dynamic sparse attention):

- ``__init__.py`` holds ``METHOD = AttentionMethod(...)`` (dense) or ``PredictorMethod(...)`` (sparse): the
  attention kind and ``module:attribute`` references to its parts; it imports nothing but this module (no torch);
- ``config.py`` (no torch): the typed settings, a subclass of ``hyflexpim.config.attention``'s bases; the run's
  configuration, the plan and the chip model all validate them by ``kind`` through this registry;
- ``accuracy.py`` (torch, the ``sim`` side): a dense kind's ``enable(model, config)``, or a sparse kind's
  ``hyflexpim.sim.sparse_attention.Predictor``;
- ``cost.py`` (no torch, the ``hw`` side): a sparse kind's ``prediction(config) -> dict``, the chip's
  ``prediction`` section its settings imply, and the ``hyflexpim.hw.costs_prediction.Predictor`` pricing the
  chip prediction kind it owns (``prediction_kind``; a kind priced like another's names none).

``METHOD_PACKAGES`` below is the one registration line per folder. The sides resolve what they need explicitly
(``hyflexpim.sim.attention.register_methods``, ``hyflexpim.hw.costs_prediction.register_methods``); nothing is
registered by importing a module. The references are strings, so the cost side never imports the accuracy half
(tests/test_layering.py checks each half's imports).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

METHOD_PACKAGES: tuple[str, ...] = (
    "hyflexpim.methods.attention.float",
    "hyflexpim.methods.attention.digital",
    "hyflexpim.methods.predictors.topk",
    "hyflexpim.methods.predictors.window",
    "hyflexpim.methods.predictors.block",
    "hyflexpim.methods.predictors.spatten",
    "hyflexpim.methods.predictors.quest",
    "hyflexpim.methods.predictors.h2o",
    "hyflexpim.methods.predictors.sanger",
    "hyflexpim.methods.predictors.cluster",
    "hyflexpim.methods.predictors.pq",
)

# the chip's prediction kind of a design that predicts nothing (dense, or a fixed pattern): priced as zero in
# hyflexpim.hw.costs_prediction; every other prediction kind is a method folder's (``prediction_kind``)
BUILTIN_PREDICTION_KINDS: tuple[str, ...] = ("none",)


@dataclass(frozen=True, kw_only=True)
class AttentionMethod:
    """One attention kind. ``kind``: ``hardware.attention.kind``; ``config`` / ``accuracy`` / ``cost`` /
    ``prepare``: ``"module:attribute"`` relative to ``package`` (the folder), resolved on demand by :meth:`load`
    (``accuracy`` of a dense kind: ``enable(model, config)``, None: the model's own attention)."""

    kind: str
    package: str
    config: str
    accuracy: str | None = None
    cost: str | None = None
    prepare: str | None = None

    sparse = False  # a dense kind: every score computed (a plan carries it as ``dense``)

    def load(self, part: str) -> Any:
        """The object a part names (``config``, ``accuracy``, ``cost``, ``prediction`` or ``prepare``; None if not
        given)."""
        ref = getattr(self, part)
        if ref is None:
            return None
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attr)


@dataclass(frozen=True, kw_only=True)
class PredictorMethod(AttentionMethod):
    """One relevance predictor of dynamic sparse attention. ``accuracy``: its scorer (a
    ``hyflexpim.sim.sparse_attention.Predictor``); ``prediction``: ``cost:prediction``, the function deriving the
    chip's ``prediction`` section from the typed settings; ``prediction_kind``: the chip prediction kind whose
    price ``cost`` (a ``hyflexpim.hw.costs_prediction.Predictor``) is, None when the kind is priced as another
    folder's (``cost`` then None too)."""

    accuracy: str
    prediction: str
    prediction_kind: str | None = None

    sparse = True


@cache
def attention_methods() -> dict[str, AttentionMethod]:
    """Every registered method folder's ``METHOD``, by attention kind (each folder's ``__init__`` is strings only)."""
    out: dict[str, AttentionMethod] = {}
    for package in METHOD_PACKAGES:
        method = importlib.import_module(package).METHOD
        if not isinstance(method, AttentionMethod) or method.package != package:
            raise TypeError(f"{package}.METHOD must be an AttentionMethod naming package={package!r}")
        if isinstance(method, PredictorMethod) and (method.cost is None) != (method.prediction_kind is None):
            raise TypeError(f"{package}.METHOD: a cost half prices a prediction_kind; give both or neither")
        out[method.kind] = method
    return out


def predictor_methods() -> dict[str, PredictorMethod]:
    """The sparse kinds' registrations (relevance predictors), by attention kind."""
    return {k: m for k, m in attention_methods().items() if isinstance(m, PredictorMethod)}


def prediction_kinds() -> tuple[str, ...]:
    """The chip's prediction kinds: the built-in one and those the method folders price."""
    return BUILTIN_PREDICTION_KINDS + tuple(m.prediction_kind for m in predictor_methods().values()
                                            if m.prediction_kind is not None)


# ----------------------------------------------------------------------------------------------------------------
# Rank policies, noise models and designs: one folder each (``hyflexpim/methods/{rank,noise,designs}/<name>/``),
# registered by the packages listed here. Each folder's ``__init__`` holds ``METHODS`` (a tuple of the dataclasses
# below; strings only, no torch). The registries that hold them (``hyflexpim.algo.rank.RANK_POLICIES``,
# ``hyflexpim.device.noise.NOISE_MODELS``, ``hyflexpim.chip.spec.SPEC_KINDS``, ``hyflexpim.hw.designs.COST_MODELS``)
# are made with a ``fill`` that resolves these registrations (``Registry.fill``: once, at the first read), and
# :func:`register_kinds` fills them all explicitly. Importing any of those modules registers nothing.
# ----------------------------------------------------------------------------------------------------------------

RANK_PACKAGES: tuple[str, ...] = (
    "hyflexpim.methods.rank.static",
    "hyflexpim.methods.rank.learned",
)
NOISE_PACKAGES: tuple[str, ...] = (
    "hyflexpim.methods.noise.paper",
    "hyflexpim.methods.noise.ideal",
    "hyflexpim.methods.noise.levels",
)
DESIGN_PACKAGES: tuple[str, ...] = (
    "hyflexpim.methods.designs.pim",
    "hyflexpim.methods.designs.roofline",
    "hyflexpim.methods.designs.attention",
    "hyflexpim.methods.designs.gpu",
)


def _load(package: str, ref: str | None) -> Any:
    """The object ``"module:attribute"`` names: ``module`` relative to ``package``, or absolute (``hyflexpim.…``)."""
    if ref is None:
        return None
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module if module.startswith("hyflexpim.") else f"{package}.{module}"),
                   attr)


@dataclass(frozen=True)
class RankMethod:
    """One rank policy (``decompose.rank_policy``). ``policy``: its ``hyflexpim.algo.rank.RankPolicy`` (the accuracy
    half: how many components each matrix keeps); ``hooks``: optional ``hyflexpim.algo.rank.RankHooks`` (training
    hooks into the redistribution step, e.g. ``learned``'s soft thresholds). ``cost`` is None for every rank policy:
    a policy has no price of its own, the plan it produces is priced."""

    name: str
    package: str
    policy: str
    hooks: str | None = None
    cost: None = None

    def load(self, part: str) -> Any:
        return _load(self.package, getattr(self, part))


@dataclass(frozen=True)
class NoiseMethod:
    """One noise model (``hardware.noise.kind``). ``config``: its ``Strict`` config class; ``accuracy``: the
    factory ``config -> hyflexpim.device.noise.NoiseModel``; ``code_std``: optional ``(model, cells) -> std of the
    programmed code per code`` for a model whose programming noise is Gaussian in the code (noise-aware training
    then draws once per weight, ``hyflexpim.sim.noise_aware``); ``describe``: optional ``config -> str``, the model
    and its main parameters in words (a figure's title); ``cost``: None (a noise model has no price of its own: the
    chip's costs do not depend on it)."""

    kind: str
    package: str
    config: str
    accuracy: str
    code_std: str | None = None
    describe: str | None = None
    cost: None = None

    def load(self, part: str) -> Any:
        return _load(self.package, getattr(self, part))


@dataclass(frozen=True)
class DesignMethod:
    """One kind of design (a spec's ``kind``). ``spec``: its pydantic spec class; ``cost``: its cost model
    ``(plan, arch, spec, seq_lens, batch, gen_tokens) -> hyflexpim.hw.results.HwResult``; ``scope``: the work it
    prices, ``"model"`` or ``"self-attention only"``; no accuracy half (the accuracy side reads a PIM spec's fields).
    Both halves import no torch."""

    kind: str
    package: str
    spec: str
    cost: str
    scope: str = "model"

    def load(self, part: str) -> Any:
        return _load(self.package, getattr(self, part))


def _methods(packages: tuple[str, ...], cls: type, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for package in packages:
        for method in importlib.import_module(package).METHODS:
            if not isinstance(method, cls) or getattr(method, "package", None) != package:
                raise TypeError(f"{package}.METHODS must hold {cls.__name__}s naming package={package!r}")
            out[getattr(method, key)] = method
    return out


@cache
def rank_methods() -> dict[str, RankMethod]:
    """Every registered rank policy folder's methods, by policy name."""
    return _methods(RANK_PACKAGES, RankMethod, "name")


@cache
def noise_methods() -> dict[str, NoiseMethod]:
    """Every registered noise model folder's method, by kind."""
    return _methods(NOISE_PACKAGES, NoiseMethod, "kind")


@cache
def design_methods() -> dict[str, DesignMethod]:
    """Every registered design folder's method, by spec kind."""
    return _methods(DESIGN_PACKAGES, DesignMethod, "kind")


# the registries the folders above fill, "module:attribute"; the cost side's first (no torch)
COST_SIDE_REGISTRIES: tuple[str, ...] = ("hyflexpim.chip.spec:SPEC_KINDS", "hyflexpim.hw.designs:COST_MODELS",
                                         "hyflexpim.hw.designs:COST_SCOPES")
ACCURACY_SIDE_REGISTRIES: tuple[str, ...] = ("hyflexpim.algo.rank:RANK_POLICIES",
                                             "hyflexpim.device.noise:NOISE_MODELS",
                                             "hyflexpim.sim.noise_aware:CODE_NOISE")


def register_kinds(accuracy_side: bool = True) -> None:
    """The one explicit registration of the rank policy, noise model and design folders: fills each registry
    (idempotent; a name a user registered first is kept). ``accuracy_side=False``: the designs only (no torch is
    imported). Each registry also fills itself at its first read, so a library user who never calls this gets the
    same registries."""
    for ref in COST_SIDE_REGISTRIES + (ACCURACY_SIDE_REGISTRIES if accuracy_side else ()):
        _load("", ref).fill()
