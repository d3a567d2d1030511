"""Public entry points: ``evaluate`` one spec, ``compare`` HyFlexPIM against its baselines."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from typing_extensions import TypeIs

from hyflexpim.chip.spec import SPEC_KINDS, PimSpec, Spec, load_spec
from hyflexpim.errors import UserError
from hyflexpim.hw.attention_only import ATTENTION_ON, roofline_attention
from hyflexpim.hw.designs import COST_MODELS, batch_size, prices_whole_model
from hyflexpim.hw.library import pu_totals
from hyflexpim.hw.mapping import map_plan
from hyflexpim.hw.results import METRICS, HwResult  # noqa: F401  (METRICS: re-exported)
from hyflexpim.hw.shapes import get_shape, uniform_plan
from hyflexpim.plan import Architecture, Plan

DEFAULT_SEQ_LENS = (128, 512, 1024, 2048, 4096, 8192)
BASELINES = ("all_slc", "all_mlc", "asadi", "sprint", "transpim", "gpu_a100", "gpu_h100")


def _is_spec(x: object) -> TypeIs[Spec]:
    """A spec given as an object (of any registered spec kind) rather than a name or a file."""
    return isinstance(x, tuple(SPEC_KINDS.get(k) for k in SPEC_KINDS.names()))


def resolve(plan_or_shape: Plan | Architecture | str, slc_rate: float | None = None,
            shape: Architecture | str | None = None, decoder: bool | None = None) -> tuple[Plan, Architecture]:
    """(plan, architecture) from a Plan, an Architecture or a catalogue name.

    A plan is priced with the architecture it carries (format 2). With ``shape`` (a catalogue name
    or an Architecture), the plan must cover every matrix of that model, which is then used.
    ``decoder`` applies to plans migrated from format 1 only (their architecture says encoder)."""
    if isinstance(shape, str):
        shape = get_shape(shape)
    if isinstance(plan_or_shape, str):
        plan_or_shape = get_shape(plan_or_shape)
    if isinstance(plan_or_shape, Architecture):
        rate = 10.0 if slc_rate is None else slc_rate
        return uniform_plan(plan_or_shape, rate), plan_or_shape
    if not isinstance(plan_or_shape, Plan):
        raise UserError("plan_or_shape must be a Plan, an Architecture or a model name, "
                        f"got {type(plan_or_shape).__name__}")
    plan = plan_or_shape
    if shape is not None:
        plan.check_covers(shape)
        return plan, shape
    arch = plan.architecture
    if decoder and not arch.decoder:
        if not any("format 1" in n for n in plan.notes):
            raise UserError(f"plan '{plan.model_name}' carries its architecture (an encoder); --decoder is only for "
                            "format-1 plans")
        arch = arch.model_copy(update={"decoder": True, "source": arch.source + "; decoder as the user said"})
    plan.check_covers(arch)
    return plan, arch


COMPARE_MODES = ("iso-area", "iso-pus", "min-chips")


def _check_run_args(seq_lens: Iterable[int], batch: int | str, gen_tokens: int) -> list[int]:
    seq = [int(s) for s in seq_lens]
    if not seq or min(seq) <= 0:
        raise UserError(f"--seq-lens must be positive integers, got {list(seq_lens)}")
    if batch != "fill" and (isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0):
        raise UserError("--batch must be a positive integer or 'fill' (one sequence per pipeline stage), "
                        f"got {batch!r}")
    if gen_tokens < 0:
        raise UserError(f"--gen-tokens must be >= 0, got {gen_tokens}")
    return seq


def evaluate(plan_or_shape: Plan | Architecture | str, spec: Spec | str | Path = "hyflexpim",
             seq_lens: Sequence[int] = (128,), *, batch: int | str = 1, gen_tokens: int = 128,
             slc_rate: float | None = None, shape: Architecture | str | None = None,
             decoder: bool | None = None) -> HwResult:
    """Throughput, latency, energy, area and power of one spec running one plan.

    ``plan_or_shape``: a Plan, an Architecture or a catalogue name (then ``slc_rate`` in % (0..100,
    default 10) builds a uniform plan at the hard-threshold rank). ``seq_lens``: sequence lengths (the prompt length
    for decoders, which then generate ``gen_tokens`` tokens). ``batch``: sequences in flight, default 1
    for every design; ``"fill"``: one per pipeline stage (the PIM pipeline's steady state; the
    baselines then get as many sequences as the model has layers). Returns an ``HwResult`` (one value per length).
    """
    seq = _check_run_args(seq_lens, batch, gen_tokens)
    plan, shp = resolve(plan_or_shape, slc_rate, shape, decoder)
    sp = spec if _is_spec(spec) else load_spec(spec)
    return _run(plan, shp, sp, seq, batch, gen_tokens)


def run_mode(shp: Architecture, gen_tokens: int) -> str:
    """What a result prices: ``encoder`` (one bidirectional pass), a decoder's ``prefill`` (the prompt teacher-forced,
    causal attention, no token generated: what a perplexity measures) or ``generation`` (prompt + gen_tokens)."""
    return "encoder" if not shp.decoder else "generation" if gen_tokens > 0 else "prefill"


def _labels(plan: Plan, shp: Architecture, sp: Spec, seq: list[int], gen_tokens: int) -> dict[str, Any]:
    return {"mode": run_mode(shp, gen_tokens), "spec": sp.name, "model": shp.name or plan.model_name,
            "seq_lens": seq, "slc_rate": plan.policy.get("slc_rate")}


def _run(plan: Plan, shp: Architecture, sp: Spec, seq: list[int], batch: int | str, gen_tokens: int,
         **info: str) -> HwResult:
    """``sp``'s cost model on ``plan``, labelled; ``info``: run labels to set in its info (``compare``, ``scope``)."""
    out = COST_MODELS.get(sp.kind, "spec kind")(plan, shp, sp, seq, batch, gen_tokens)
    return _label(out, plan, shp, sp, seq, gen_tokens, **info)


def _label(out: HwResult, plan: Plan, shp: Architecture, sp: Spec, seq: list[int], gen_tokens: int,
           key: str | None = None, **info: str) -> HwResult:
    changes: dict[str, Any] = _labels(plan, shp, sp, seq, gen_tokens)
    if key is not None:
        changes["key"] = key
    if info:
        changes["info"] = dataclasses.replace(out.info, **info)  # type: ignore[arg-type]  # a run label
    return out.replace(**changes)


def equalise(plan: Plan, specs: list[Spec], mode: str) -> list[Spec]:
    """The PIM designs of ``specs`` given the same area (``iso-area``: as many PUs per layer as the
    largest design's layer area buys, at each design's own PU area), the same PUs per layer
    (``iso-pus``), or each the fewest PUs that hold a layer (``min-chips``). Baselines pass unchanged."""
    if mode not in COMPARE_MODES:
        raise UserError(f"--compare must be one of {', '.join(COMPARE_MODES)}; got {mode!r}")

    if mode == "min-chips" or not isinstance(specs[0], PimSpec):
        return specs
    ref_area = pu_totals(specs[0]).area_mm2
    # the family of the subject's PU (HyFlexPIM, all-SLC, all-MLC on the same chip); a design with another
    # PU (ASADI-like) keeps its own minimum and is compared per mm2
    pim = [s for s in specs if isinstance(s, PimSpec) and abs(pu_totals(s).area_mm2 / ref_area - 1) < 0.01]
    if len(pim) < 2:
        return specs
    p0 = {id(s): map_plan(plan, s).pus_per_layer for s in pim}
    area = {id(s): pu_totals(s).area_mm2 for s in pim}
    if mode == "iso-pus":
        target = {k: max(p0.values()) for k in p0}
    else:
        budget = max(p0[k] * area[k] for k in p0)
        target = {k: max(p0[k], int(budget / area[k] + 1e-9)) for k in p0}
    out = []
    for s in specs:
        if isinstance(s, PimSpec) and id(s) in target and target[id(s)] > max(p0[id(s)], s.mapping.tensor_parallel):
            s = s.model_copy(update={"mapping": s.mapping.model_copy(update={"tensor_parallel": target[id(s)]})})
        out.append(s)
    return out


def compare(plan_or_shape: Plan | Architecture | str, seq_lens: Sequence[int] = DEFAULT_SEQ_LENS, *,
            spec: Spec | str | Path = "hyflexpim", baselines: Sequence[Spec | str | Path] = BASELINES,
            batch: int | str = 1,
            gen_tokens: int = 128, slc_rate: float | None = None, shape: Architecture | str | None = None,
            decoder: bool | None = None, specs_cache: dict[Any, Spec] | None = None,
            mode: str = "iso-area") -> list[HwResult]:
    """``evaluate`` for HyFlexPIM and each baseline (the first entry is HyFlexPIM), the PIM designs
    equalised by ``mode`` (``iso-area`` by default: the same silicon for every PIM design)."""
    seq = _check_run_args(seq_lens, batch, gen_tokens)
    plan, shp = resolve(plan_or_shape, slc_rate, shape, decoder)
    cache = specs_cache if specs_cache is not None else {}
    refs = (spec, *baselines)
    loaded = []
    for ref in refs:
        key = str(ref) if not _is_spec(ref) else id(ref)
        if key not in cache:
            cache[key] = ref if _is_spec(ref) else load_spec(ref)
        loaded.append(cache[key])

    attention_only = not prices_whole_model(loaded[0].kind)  # an attention-only design: every baseline on that work
    if attention_only and any(sp.kind not in ATTENTION_ON and prices_whole_model(sp.kind) for sp in loaded[1:]):
        raise UserError(f"spec '{loaded[0].name}' prices the self-attention only: compare it with rooflines (GPUs) or "
                        "other attention-only designs, not with whole-model PIM designs")
    out = []
    for ref, sp in zip(refs, equalise(plan, loaded, mode)):
        key = "hyflexpim" if ref is spec else str(ref)
        if attention_only and sp.kind in ATTENTION_ON:
            b = batch_size(batch, shp.layers)
            r = roofline_attention(sp, shp, seq, b, gen_tokens, plan.attention.keep)  # keep: 1 when dense
            out.append(_label(r, plan, shp, sp, seq, gen_tokens, key=key, scope="self-attention only", compare=mode))
        else:
            out.append(_run(plan, shp, sp, seq, batch, gen_tokens, key=key, compare=mode))
    return out


def compare_modes(plan_or_shape: Plan | Architecture | str, seq_lens: Sequence[int] = DEFAULT_SEQ_LENS, *,
                  gen_tokens: int = 128,
                  slc_rate: float | None = None, shape: Architecture | str | None = None,
                  decoder: bool | None = None, **kw: Any) -> list[HwResult]:
    """``compare`` once for an encoder; for a decoder twice, prefill (``gen_tokens = 0``) then generation (prompt +
    ``gen_tokens``), each result labelled by its ``mode``."""
    _, shp = resolve(plan_or_shape, slc_rate, shape, decoder)
    runs = (0, gen_tokens) if shp.decoder and gen_tokens > 0 else (gen_tokens,)
    return [r for g in runs for r in compare(plan_or_shape, seq_lens, gen_tokens=g, slc_rate=slc_rate, shape=shape,
                                             decoder=decoder, **kw)]
