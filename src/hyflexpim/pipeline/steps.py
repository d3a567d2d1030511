"""The steps of a run, declared: what each reads of the configuration, which steps it follows, what it writes.

    pre-finetune ─► decompose ─► redistribute ─► importance ─► plan ─┬─► evaluate ─┐
                                                                     ├─► price ────┼─► report
                                                                     └─► attention ┘

A step's cache key is DERIVED, never listed by hand: the content of the configuration sections it reads, merged
with the keys of the steps it follows (and the package version). Changing one field of a section therefore
changes exactly the keys of the steps that read that section and of every step after them
(``tests/test_steps.py`` checks this section by section). The model steps keep their key beside their model
(``models/<stage>.key.json``, ``pipeline.step_keys``); the flat merge keeps the format those files always had, so
run folders made before keep their models.

A read may be conditional (``Read.when``): the redistribution reads the hardware only when it trains with the
hardware's noise; a section at its historic default is left out of the key where a model made before the field
existed must stay valid (``precision`` fp32, ``concentration`` off).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hyflexpim import __version__
from hyflexpim.pipeline.config import RunConfig


@dataclass(frozen=True)
class Read:
    """One configuration section (a top-level field of ``RunConfig``) a step reads; ``when``: only if true."""

    section: str
    when: Callable[[RunConfig], object] | None = None  # its truth value decides

    def applies(self, c: RunConfig) -> bool:
        return self.when is None or bool(self.when(c))

    def value(self, c: RunConfig) -> Any:
        v = getattr(c, self.section)
        return v.model_dump(mode="json") if hasattr(v, "model_dump") else v


@dataclass(frozen=True)
class Step:
    """``name`` is the step's command name; ``model``: the cached model it makes (``models/<model>.safetensors``);
    ``writes``: the artefacts it writes (``hyflexpim.artefacts.RunFolder`` names, for the reader);
    ``feeds``: the model variants whose importance, plans, codebooks and evaluations depend on it (dropped with it);
    ``trains``: it trains its model (a step command not named for it may not remake it; a sweep shares it)."""

    name: str
    reads: tuple[Read, ...]
    after: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    model: str | None = None
    feeds: tuple[str, ...] = ()
    trains: bool = False


def _r(*sections: str) -> tuple[Read, ...]:
    return tuple(Read(s) for s in sections)


STEPS: tuple[Step, ...] = (
    Step("pre-finetune",
         (*_r("model", "task", "task_kind", "data", "seed", "pre_finetune"),
          Read("precision", lambda c: c.precision != "fp32")),
         writes=("model:finetuned", "fingerprint"), model="finetuned",
         feeds=("fp32", "original", "svd", "redistributed"), trains=True),
    Step("decompose", _r("decompose"), after=("pre-finetune",), writes=("model:decomposed",), model="decomposed",
         feeds=("svd", "redistributed")),
    Step("redistribute",
         (*_r("redistribute", "noise_aware"),
          Read("concentration", lambda c: c.concentration.strength),
          Read("hardware", lambda c: c.noise_aware.enabled)),
         after=("decompose",), writes=("model:redistributed", "learned_ranks"), model="redistributed",
         feeds=("redistributed",), trains=True),
    Step("importance", _r("importance"), after=("redistribute",), writes=("importance", "concentration")),
    Step("plan", _r("plan", "hardware"), after=("importance",), writes=("plan", "sensitivity", "codebooks")),
    Step("evaluate", _r("noise_seeds", "hardware", "compare"), after=("plan",),
         writes=("evaluations", "results", "differences", "metric_plot")),
    Step("price", _r("hardware", "hw_report", "label"), after=("plan",), writes=("hw",)),
    Step("attention", _r("attention", "hardware", "noise_seeds"), after=("plan",), writes=("attention",)),
    Step("report", _r("label"), after=("evaluate", "price", "attention"), writes=("report",)),
)
BY_NAME = {s.name: s for s in STEPS}
MODEL_STEPS = tuple(s for s in STEPS if s.model)


def step(name: str) -> Step:
    return BY_NAME[name]


def step_of_model(model: str) -> str:
    """The step that makes the cached model ``model`` (e.g. "decomposed" -> "decompose")."""
    return next(s.name for s in MODEL_STEPS if s.model == model)


def upstream(name: str) -> list[str]:
    """The steps ``name`` follows, transitively, in run order (itself last)."""
    seen: list[str] = []

    def visit(n: str) -> None:
        for a in BY_NAME[n].after:
            visit(a)
        if n not in seen:
            seen.append(n)

    visit(name)
    return [s.name for s in STEPS if s.name in seen]


def key(c: RunConfig, name: str) -> dict[str, Any]:
    """Everything step ``name``'s output depends on: the sections it and the steps before it read (flat), and the
    package version."""
    out: dict[str, Any] = {"version": __version__}
    for n in upstream(name):
        for r in BY_NAME[n].reads:
            if r.applies(c):
                out[r.section] = r.value(c)
    return out


def digest(c: RunConfig, name: str) -> str:
    """A short identity of step ``name``'s key (names a shared step's folder in a sweep)."""
    return hashlib.sha256(json.dumps(key(c, name), sort_keys=True).encode()).hexdigest()[:12]


def reading(section: str) -> set[str]:
    """The steps that declare ``section`` among their reads (whether or not the read applies to a config)."""
    return {s.name for s in STEPS if any(r.section == section for r in s.reads)}


def downstream(names: set[str]) -> set[str]:
    """``names`` and every step after any of them."""
    return {s.name for s in STEPS if names & set(upstream(s.name))}
