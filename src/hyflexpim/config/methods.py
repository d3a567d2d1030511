"""Method folders: one registration per method, naming its halves by dotted path (HF peft's shape).

Every method family is a set of folders, ``hyflexpim/methods/<family>/<name>/``: attention kinds (``attention/``:
the dense ``float``, ``digital``; ``predictors/``: the relevance predictors of dynamic sparse attention), rank
policies (``rank/``), noise models (``noise/``) and designs (``designs/``). A folder's parts:

- ``__init__.py`` holds ``METHODS``, a tuple of this module's dataclasses (one per name it registers: the
  ``static`` rank folder registers several): the name and ``module:attribute`` references to its parts, relative
  to the folder (or absolute, ``hyflexpim.…``); it imports nothing but this module (no torch);
- ``config.py`` (no torch): the typed settings, validated by ``kind`` through the family's registry;
- ``accuracy.py`` (torch, the ``sim`` side): what changes the model (a dense kind's ``enable``, a sparse kind's
  ``hyflexpim.sim.sparse_attention.Predictor``, a rank policy, a noise model's factory);
- ``cost.py`` (no torch, the ``hw`` side): its price (a predictor's ``hyflexpim.hw.costs_prediction.Predictor`` and
  the chip ``prediction`` section its settings imply, a design's cost model); none for a rank policy or a noise
  model (the plan they produce is priced);
- optional hooks (``prepare``: PQ's codebook fitting; ``hooks``: the ``learned`` rank policy's training hooks).

The ``*_PACKAGES`` tuples below are the one registration line per folder. Each registry the folders fill
(:data:`REGISTRIES`) is made with ``Registry(what, fill=fill_from(...))``: it fills itself from these
registrations at its first read (``hyflexpim.config.registry``), and :func:`register_all_methods` fills every one
explicitly; importing a module registers nothing, and a name a user registered (or replaced) first is kept. The
references are strings, so the cost side never imports an accuracy half (tests/test_layering.py checks each half's
imports).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, TypeVar

from hyflexpim.config.registry import Registry

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

# the chip's prediction kind of a design that predicts nothing (dense, or a fixed pattern): priced as zero in
# hyflexpim.hw.costs_prediction; every other prediction kind is a method folder's (``prediction_kind``)
BUILTIN_PREDICTION_KINDS: tuple[str, ...] = ("none",)


def _load(package: str, ref: str | None) -> Any:
    """The object ``"module:attribute"`` names: ``module`` relative to ``package``, or absolute (``hyflexpim.…``)."""
    if ref is None:
        return None
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module if module.startswith("hyflexpim.") else f"{package}.{module}"),
                   attr)


@dataclass(frozen=True, kw_only=True)
class Method:
    """One registration of a method folder: ``package`` (the folder, ``__name__``) and its parts, each a
    ``"module:attribute"`` string resolved on demand by :meth:`load`. ``key``: the field naming it in its registry."""

    package: str

    key: ClassVar[str] = "kind"

    def load(self, part: str) -> Any:
        """The object a part names (None if the part is not given)."""
        return _load(self.package, getattr(self, part))


@dataclass(frozen=True, kw_only=True)
class AttentionMethod(Method):
    """One attention kind (``hardware.attention.kind``). ``config``: its settings; ``accuracy``: a dense kind's
    ``enable(model, config)`` (None: the model's own attention); ``cost`` / ``prepare``: see PredictorMethod."""

    kind: str
    config: str
    accuracy: str | None = None
    cost: str | None = None
    prepare: str | None = None

    sparse = False  # a dense kind: every score computed (a plan carries it as ``dense``)


@dataclass(frozen=True, kw_only=True)
class PredictorMethod(AttentionMethod):
    """One relevance predictor of dynamic sparse attention. ``accuracy``: its scorer (a
    ``hyflexpim.sim.sparse_attention.Predictor``); ``prediction``: ``cost:prediction``, the function deriving the
    chip's ``prediction`` section from the typed settings; ``prediction_kind``: the chip prediction kind whose
    price ``cost`` (a ``hyflexpim.hw.costs_prediction.Predictor``) is, None when the kind is priced as another
    folder's (``cost`` then None too); ``prepare``: optional, the run's preparation (PQ: its codebooks)."""

    accuracy: str
    prediction: str
    prediction_kind: str | None = None

    sparse = True

    def __post_init__(self) -> None:
        if (self.cost is None) != (self.prediction_kind is None):
            raise TypeError(f"{self.package}: a cost half prices a prediction_kind; give both or neither")


@dataclass(frozen=True, kw_only=True)
class RankMethod(Method):
    """One rank policy (``decompose.rank_policy``). ``policy``: its ``hyflexpim.algo.rank.RankPolicy`` (the accuracy
    half: how many components each matrix keeps); ``hooks``: optional ``hyflexpim.algo.rank.RankHooks`` (training
    hooks into the redistribution step, e.g. ``learned``'s soft thresholds). ``cost`` is None for every rank policy:
    a policy has no price of its own, the plan it produces is priced."""

    name: str
    policy: str
    hooks: str | None = None
    cost: None = None

    key: ClassVar[str] = "name"


@dataclass(frozen=True, kw_only=True)
class NoiseMethod(Method):
    """One noise model (``hardware.noise.kind``). ``config``: its ``Strict`` config class; ``accuracy``: the
    factory ``config -> hyflexpim.device.noise.NoiseModel``; ``code_std``: optional ``(model, cells) -> std of the
    programmed code per code`` for a model whose programming noise is Gaussian in the code (noise-aware training
    then draws once per weight, ``hyflexpim.sim.noise_aware``); ``describe``: optional ``config -> str``, the model
    and its main parameters in words (a figure's title); ``cost``: None (a noise model has no price of its own: the
    chip's costs do not depend on it)."""

    kind: str
    config: str
    accuracy: str
    code_std: str | None = None
    describe: str | None = None
    cost: None = None


@dataclass(frozen=True, kw_only=True)
class DesignMethod(Method):
    """One kind of design (a spec's ``kind``). ``spec``: its pydantic spec class; ``cost``: its cost model
    ``(plan, arch, spec, seq_lens, batch, gen_tokens) -> hyflexpim.hw.results.HwResult``; ``scope``: the work it
    prices, ``"model"`` or ``"self-attention only"``; no accuracy half (the accuracy side reads a PIM spec's fields).
    Both halves import no torch."""

    kind: str
    spec: str
    cost: str
    scope: str = "model"


M = TypeVar("M", bound=Method)


def _methods(packages: tuple[str, ...], cls: type[M]) -> dict[str, M]:
    """Every folder's ``METHODS`` (each a ``cls`` naming its own package), by its key; the one loader."""
    out: dict[str, M] = {}
    for package in packages:
        for method in importlib.import_module(package).METHODS:
            if not isinstance(method, cls) or method.package != package:
                raise TypeError(f"{package}.METHODS must hold {cls.__name__}s naming package={package!r}")
            out[getattr(method, method.key)] = method
    return out


@cache
def attention_methods() -> dict[str, AttentionMethod]:
    """Every attention kind folder's registration, by attention kind (each folder's ``__init__`` is strings only)."""
    return _methods(METHOD_PACKAGES, AttentionMethod)


def predictor_methods() -> dict[str, PredictorMethod]:
    """The sparse kinds' registrations (relevance predictors), by attention kind."""
    return {k: m for k, m in attention_methods().items() if isinstance(m, PredictorMethod)}


def priced_predictor_methods() -> dict[str, PredictorMethod]:
    """The predictor folders with a cost half, by the chip prediction kind each prices."""
    return {m.prediction_kind: m for m in predictor_methods().values() if m.prediction_kind is not None}


def prediction_kinds() -> tuple[str, ...]:
    """The chip's prediction kinds: the built-in one and those the method folders price."""
    return BUILTIN_PREDICTION_KINDS + tuple(priced_predictor_methods())


@cache
def rank_methods() -> dict[str, RankMethod]:
    """Every registered rank policy folder's methods, by policy name."""
    return _methods(RANK_PACKAGES, RankMethod)


@cache
def noise_methods() -> dict[str, NoiseMethod]:
    """Every registered noise model folder's method, by kind."""
    return _methods(NOISE_PACKAGES, NoiseMethod)


@cache
def design_methods() -> dict[str, DesignMethod]:
    """Every registered design folder's method, by spec kind."""
    return _methods(DESIGN_PACKAGES, DesignMethod)


def fill_from(methods: Callable[[], dict[str, M]], entry: Callable[[M], Any]) -> Callable[[Registry[Any]], None]:
    """A registry's ``fill``: each of ``methods()``'s names not registered yet, with ``entry(method)`` (a method
    whose entry is None is skipped: a folder without that part). The one way a registry takes the folders."""
    def fill(registry: Registry[Any]) -> None:
        for name, method in methods().items():
            if name not in registry:
                value = entry(method)
                if value is not None:
                    registry.register(name, value)

    return fill


# every registry the method folders fill, "module:attribute"; the cost side's first (they import no torch)
COST_SIDE_REGISTRIES: tuple[str, ...] = ("hyflexpim.plan.schema:SPARSE_KINDS", "hyflexpim.chip.spec:SPEC_KINDS",
                                         "hyflexpim.hw.designs:COST_MODELS", "hyflexpim.hw.designs:COST_SCOPES",
                                         "hyflexpim.hw.costs_prediction:PREDICTORS")
ACCURACY_SIDE_REGISTRIES: tuple[str, ...] = ("hyflexpim.sim.attention:ATTENTION_KINDS",
                                             "hyflexpim.sim.sparse_attention:PREDICTORS",
                                             "hyflexpim.algo.rank:RANK_POLICIES",
                                             "hyflexpim.device.noise:NOISE_MODELS",
                                             "hyflexpim.sim.noise_aware:CODE_NOISE")
REGISTRIES: tuple[str, ...] = COST_SIDE_REGISTRIES + ACCURACY_SIDE_REGISTRIES


def register_all_methods(accuracy_side: bool = True) -> None:
    """The one explicit registration of every method family's folders: fills each registry of :data:`REGISTRIES`
    (idempotent; a name a user registered first is kept). ``accuracy_side=False``: the cost side's only (no torch
    is imported). Each registry also fills itself at its first read, so a library user who never calls this gets
    the same registries."""
    for ref in COST_SIDE_REGISTRIES + (ACCURACY_SIDE_REGISTRIES if accuracy_side else ()):
        _load("", ref).fill()
